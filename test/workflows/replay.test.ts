import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import {
  committedHistories,
  gitUnavailable,
  HISTORIES_DIR,
  MANIFEST,
  manifest,
  recordedHistories,
  sha256File,
} from '../support/histories';
import { workflowBundle } from '../support/temporal';

describe('replay of recorded refundSaga histories', () => {
  const histories = recordedHistories();

  it('has one history per workflow id (replay results are matched to files by it)', () => {
    const ids = histories.map((h) => h.workflowId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('has the recorded scenarios to replay', () => {
    expect(histories.map((h) => h.name)).toEqual(
      expect.arrayContaining([
        'happy-path-stripe-climate',
        'circle-pending-for-hours',
        'recon-reversal-on-day-3',
        'abort-after-pivot',
        'ambiguous-pivot-no-cancel-aborted',
        'ambiguous-pivot-unknown-then-aborted',
        'amount-mismatch-accepted',
        // Recorded by the version before money-truth-1: a payment blocked by an outage, then aborted. It replays only
        // because the new pivot read is behind patched().
        'v0-payment-outage-then-aborted',
        'temporal-cancel-while-blocked',
        'recon-mismatch-retried-now',
        'error-type-attribute-blocked-then-skipped',
        'stripe-stored-failure-new-key',
        'carbon-skipped-while-waiting-for-new-key',
        'payment-skipped-while-pending-read-failed',
        // Recorded since override-vouch-1: an unvouched signal refused, a vouched update applied (the worker's
        // answers are local activity markers, so it replays the same whatever keys the replaying worker holds).
        'override-vouch-update-applied-signal-refused',
        // Recorded since override-vouch-2: the same, the vouch checked by an activity (its answer an event of its own).
        'override-vouch-activity-update-applied-signal-refused',
      ]),
    );
  });

  it('keeps committed histories byte for byte: each is listed in SHA256SUMS with its hash, none removed', () => {
    const listed = manifest();
    const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
    expect(files.filter((f) => !listed.has(f))).toEqual([]);
    const changed = [...listed].filter(([file, hash]) => {
      const path = join(HISTORIES_DIR, file);
      return !files.includes(file) || sha256File(path) !== hash;
    });
    expect(changed.map(([file]) => file)).toEqual([]);
  });

  // SHA256SUMS alone cannot tell: a commit may change a history and its line together. Git remembers both.
  it('keeps every history and every SHA256SUMS line ever committed, byte for byte (checked against git)', (ctx) => {
    const unavailable = gitUnavailable();
    if (unavailable) ctx.skip(unavailable);
    const { manifestLines, files } = committedHistories();
    expect(manifestLines.size).toBeGreaterThan(0);
    expect(files.length).toBeGreaterThan(0);

    // Append-only: a line once committed stays, unchanged (a line edited in place counts as dropped).
    const current = new Set(readFileSync(MANIFEST, 'utf8').split('\n').filter(Boolean));
    const dropped = [...manifestLines]
      .filter(([line]) => !current.has(line))
      .map(([line, commits]) => `${line}  (committed in ${commits.map((c) => c.slice(0, 12)).join(', ')})`);
    expect(dropped).toEqual([]);

    // Every version of every history file ever committed is still there, byte for byte.
    const changed = files
      .filter(({ file, hash }) => {
        const path = join(HISTORIES_DIR, file);
        return !existsSync(path) || sha256File(path) !== hash;
      })
      .map(({ file, commit }) => `${file} as committed in ${commit.slice(0, 12)}`);
    expect(changed).toEqual([]);
  });

  async function replayFailures(bundle: { code: string }): Promise<Array<{ name: string; error?: unknown }>> {
    const results: Array<{ name: string; error?: unknown }> = [];
    const byId = new Map(histories.map((h) => [h.workflowId, h.name]));
    const replay = Worker.runReplayHistories(
      { workflowBundle: bundle },
      histories.map(({ workflowId, json }) => ({ workflowId, history: historyFromJSON(json) })),
    );
    for await (const result of replay) results.push({ name: byId.get(result.workflowId)!, error: result.error });
    expect(results.map((r) => r.name).sort()).toEqual(histories.map((h) => h.name).sort());
    return results.filter((r) => r.error);
  }

  it('replays every recorded history without a determinism error', async () => {
    expect(await replayFailures(workflowBundle())).toEqual([]);
  });
});
