import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { recordedHistories } from '../support/histories';
import { workflowBundle } from '../support/temporal';

describe('replay of recorded refundSaga histories', () => {
  const histories = recordedHistories();

  it('has the recorded scenarios to replay', () => {
    expect(histories.map((h) => h.name)).toEqual(
      expect.arrayContaining([
        'happy-path-stripe-climate',
        'circle-pending-for-hours',
        'recon-reversal-on-day-3',
        'abort-after-pivot',
      ]),
    );
  });

  it('replays every recorded history without a determinism error', async () => {
    const results: Array<{ name: string; error?: unknown }> = [];
    const replay = Worker.runReplayHistories(
      { workflowBundle: workflowBundle() },
      histories.map(({ name, json }) => ({ workflowId: name, history: historyFromJSON(json) })),
    );
    for await (const result of replay) results.push({ name: result.workflowId, error: result.error });
    expect(results.map((r) => r.name).sort()).toEqual(histories.map((h) => h.name).sort());
    expect(results.filter((r) => r.error)).toEqual([]);
  });
});
