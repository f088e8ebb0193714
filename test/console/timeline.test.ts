import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { describe, expect, it } from 'vitest';
import { TIMELINE_LIMIT, timelineOf } from '../../src/console/timeline';

const converter = loadDataConverter({});
const history = (name: string) =>
  historyFromJSON(JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'histories', `${name}.json`), 'utf8')));

describe("a refund's timeline", () => {
  it('reads a closed Stripe window, the skip and the end in words, from the summaries the saga wrote', async () => {
    const { entries, omitted } = await timelineOf(history('stripe-window-closed-then-skipped'), converter);
    expect(omitted).toBe(0);
    expect(entries.map((e) => [e.kind, e.what, e.outcome])).toEqual([
      ['saga', 'Refund order ord_ts_6, 12.60 USD', 'started'],
      ['call', 'Cancel Circle payment b8627ae8…', 'completed'],
      ['call', 'Check Circle cancel of b8627ae8…', 'completed'],
      ['call', 'Cancel Stripe Climate order climorder_1aTnU0B63jkB3XAQKUbA5yyl', 'failed'],
      ['override', 'Override skipStep', 'applied'],
      ['call', 'Cancel 1ClickImpact impact of U1234', 'completed'],
      ['call', 'Look for the reversal of allocation b7e9c4a2…', 'completed'],
      ['saga', 'Run ended', 'completed'],
    ]);
    expect(entries[3]!.failure).toBe('WindowClosed: created 25 h ago');
    // Oldest first, each ended no earlier than it began.
    for (const [i, e] of entries.entries()) {
      if (i > 0) expect(e.at >= entries[i - 1]!.at).toBe(true);
      if (e.endedAt) expect(e.endedAt >= e.at).toBe(true);
    }
  });

  it('gives a call that needed several attempts its last attempt and failure', async () => {
    const { entries } = await timelineOf(history('outage-escalated-then-retried'), converter);
    const failed = entries.find((e) => e.outcome === 'failed');
    expect(failed).toMatchObject({ kind: 'call', attempts: 9, failure: expect.stringContaining('ECONNREFUSED') });
    expect(entries.filter((e) => e.kind === 'override').map((e) => [e.what, e.outcome])).toEqual([
      ['Override retryStep', 'applied'],
    ]);
  });

  it('keeps the newest rows of a long wait and says how many older ones it left out', async () => {
    // A history file's JSON, as `temporal workflow show --output json` writes it.
    const at = (minute: number) => new Date((1_790_000_000 + minute * 60) * 1000).toISOString();
    const events = Array.from({ length: TIMELINE_LIMIT + 25 }, (_, i) => [
      {
        eventId: String(2 * i + 1),
        eventTime: at(i),
        eventType: 'EVENT_TYPE_TIMER_STARTED',
        timerStartedEventAttributes: { timerId: String(i), startToFireTimeout: '60s' },
      },
      {
        eventId: String(2 * i + 2),
        eventTime: at(i + 1),
        eventType: 'EVENT_TYPE_TIMER_FIRED',
        timerFiredEventAttributes: { timerId: String(i) },
      },
    ]).flat();
    const { entries, omitted } = await timelineOf(historyFromJSON({ events }), converter);
    expect(omitted).toBe(25);
    expect(entries).toHaveLength(TIMELINE_LIMIT);
    expect(entries[0]).toMatchObject({ kind: 'wait', what: 'Wait 60 s', outcome: 'elapsed' });
    expect(entries[0]!.at).toBe(at(25));
    expect(entries[0]!.endedAt).toBe(at(26));
  });
});
