import { describe, expect, it } from 'vitest';
import { OneClickImpactClient } from '../../src/providers/one-click-impact/client';
import { OneClickImpactSandbox } from '../../src/providers/one-click-impact/sandbox';
import {
  ProviderMalformedResponseError,
  ProviderNotFoundError,
  ProviderValidationError,
} from '../../src/providers/errors';
import { itClassifiesErrors, useFixedAnswerServer } from '../support/error-contract';
import { ManualClock, rejectionOf, useSandbox } from '../support/sandboxes';
import { readLedger } from './ledger-view';

const clock = new ManualClock();
const cancelled: Array<{ fundsAllocationId?: string }> = [];
const { sandbox, url } = useSandbox(
  new OneClickImpactSandbox({ now: clock.now, onCancelled: (i) => cancelled.push(i) }),
);
const client = (apiKey = sandbox.apiKey) => new OneClickImpactClient({ apiKey, baseUrl: url(), timeoutMs: 2000 });
const TIME = '2025-03-12T15:22:14.753Z';
let cancelledOn = 'yesterday';
const badTimestamps = useFixedAnswerServer(() => ({
  user_id: 'U1234',
  time_utc: TIME,
  cancelled_on: cancelledOn,
  tree_planted: 1,
  message: 'impact cancelled successfully',
}));

function seedImpact(fields: Record<string, unknown> = {}) {
  sandbox.addFixtures({ impacts: [{ user_id: 'U1234', time_utc: TIME, ...fields }] });
}

describe('1ClickImpact client against the 1ClickImpact sandbox', () => {
  it('cancels an impact, reporting what was reversed, and drops it from the totals while keeping the record', async () => {
    seedImpact({ tree_planted: 10, category: 'food' });
    sandbox.addFixtures({ impacts: [{ user_id: 'U9', time_utc: '2025-01-01T00:00:00.000Z', tree_planted: 3 }] });
    expect((await client().getImpactTotals()).tree_planted).toBe(13);

    const answer = await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded' });
    expect(answer).toEqual({
      user_id: 'U1234',
      time_utc: TIME,
      cancelled_on: new Date(clock.ms).toISOString(),
      reason: 'order refunded',
      tree_planted: 10,
      category: 'food',
      message: 'impact cancelled successfully',
    });
    expect((await client().getImpactTotals()).tree_planted).toBe(3);
    expect(await client().trackImpact('U1234', TIME)).toMatchObject({
      cancelled_on: answer.cancelled_on,
      cancellation_reason: 'order refunded',
    });
    expect((await client().listRecords('U1234')).map((r) => r.time_utc)).toEqual([TIME]);
  });

  it('answers a repeated cancel with "impact was already cancelled" and the same cancelled_on, reversing nothing twice', async () => {
    seedImpact({ carbon_captured: 25 });
    const first = await client().cancelImpact({ user_id: 'U1234', time_utc: TIME });
    clock.advance(3_600_000);
    const again = await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'retry' });
    expect(again.message).toBe('impact was already cancelled');
    expect(again.cancelled_on).toBe(first.cancelled_on);
    expect(again.carbon_captured).toBe(25);
    expect(sandbox.ledgerEntries()).toHaveLength(1);
    expect((await client().getImpactTotals()).carbon_captured).toBe(0);
  });

  it('records a repeated cancel with another reason as one duplicate attempt, and no second effect', async () => {
    seedImpact();
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded [saga-1]' });
    const again = await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded [saga-2]' });
    expect(again).toMatchObject({ message: 'impact was already cancelled', reason: 'order refunded [saga-1]' });
    // The same request again is still one attempt.
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded [saga-2]' });

    const resource = `U1234|${TIME}`;
    const ledger = await readLedger(url(), resource);
    expect(ledger.counts).toEqual({ [resource]: { cancellation: 1 } });
    expect(ledger.duplicateAttempts).toEqual({ [resource]: 1 });
    expect(ledger.entries).toContainEqual(
      expect.objectContaining({
        effect: 'duplicate_attempt',
        detail: { reason: 'order refunded [saga-2]', cancelledWithReason: 'order refunded [saga-1]' },
      }),
    );
  });

  it('records no duplicate attempt for a repeat with the same reason, or a cancel of an unknown impact', async () => {
    seedImpact();
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded [saga-1]' });
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME, reason: 'order refunded [saga-1]' });
    await rejectionOf(client().cancelImpact({ user_id: 'U1', time_utc: TIME, reason: 'order refunded [saga-2]' }));
    expect(sandbox.duplicateAttempts()).toEqual([]);
    const resource = `U1234|${TIME}`;
    expect(await readLedger(url(), resource)).toMatchObject({
      counts: { [resource]: { cancellation: 1 } },
      duplicateAttempts: {},
    });
  });

  it('tells the linked funds allocation once, on the first cancel only', async () => {
    cancelled.length = 0;
    seedImpact({ fundsAllocationId: 'b7e9c4a2-8f31-4d6e-a529-3c7b8e1f0d42' });
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME });
    await client().cancelImpact({ user_id: 'U1234', time_utc: TIME });
    expect(cancelled).toEqual([{ fundsAllocationId: 'b7e9c4a2-8f31-4d6e-a529-3c7b8e1f0d42', cancelledAt: clock.ms }]);
  });

  it('answers 404 for an impact it does not know', async () => {
    const err = await rejectionOf(client().cancelImpact({ user_id: 'U1', time_utc: TIME }));
    expect(err).toBeInstanceOf(ProviderNotFoundError);
    expect((err as Error).message).toContain('impact not found');
  });

  it.each([
    ['user_id', { user_id: '1234', time_utc: TIME }],
    ['time_utc', { user_id: 'U1234', time_utc: '2025-03-12 15:22:14' }],
    ['reason', { user_id: 'U1234', time_utc: TIME, reason: 'x'.repeat(201) }],
  ])('answers 400 naming %s when it is malformed', async (field, body) => {
    const response = await fetch(`${url()}/v1/cancel_impact`, {
      method: 'POST',
      headers: { 'x-api-key': sandbox.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain(field);
  });

  it('refuses a malformed request in the client before sending it', async () => {
    const err = await rejectionOf(client().cancelImpact({ user_id: 'X1', time_utc: TIME }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({ field: 'user_id', retryable: false });
  });

  it('reports a cancelled_on that is not a timestamp as a malformed response naming the field', async () => {
    cancelledOn = 'yesterday';
    const odd = new OneClickImpactClient({ apiKey: sandbox.apiKey, baseUrl: badTimestamps.url(), timeoutMs: 2000 });
    const err = await rejectionOf(odd.cancelImpact({ user_id: 'U1234', time_utc: TIME }));
    expect(err).toBeInstanceOf(ProviderMalformedResponseError);
    expect(err).toMatchObject({ provider: '1clickimpact', status: 200, field: 'cancelled_on', retryable: false });
    expect((err as Error).message).toContain('cancelled_on');
    expect((err as Error).message).toContain('ISO 8601');
  });

  it('accepts a cancelled_on with a UTC offset', async () => {
    cancelledOn = '2025-04-30T12:15:32+02:00';
    const odd = new OneClickImpactClient({ apiKey: sandbox.apiKey, baseUrl: badTimestamps.url(), timeoutMs: 2000 });
    expect((await odd.cancelImpact({ user_id: 'U1234', time_utc: TIME })).cancelled_on).toBe(cancelledOn);
  });

  it('reports a tracked record whose cancelled_on is not a timestamp as malformed', async () => {
    cancelledOn = '2025-02-30T10:15:32.000Z';
    const odd = new OneClickImpactClient({ apiKey: sandbox.apiKey, baseUrl: badTimestamps.url(), timeoutMs: 2000 });
    const err = await rejectionOf(odd.trackImpact('U1234', TIME));
    expect(err).toBeInstanceOf(ProviderMalformedResponseError);
    expect(err).toMatchObject({ field: 'cancelled_on' });
  });

  itClassifiesErrors(() => ({
    provider: '1clickimpact',
    sandbox,
    route: 'trackImpact',
    read: ({ apiKey, timeoutMs }) => {
      seedImpact();
      return client(apiKey).trackImpact('U1234', TIME, { timeoutMs });
    },
    readMissing: () => client().trackImpact('U404', TIME),
    malformedField: 'user_id',
    requestId: undefined,
  }));
});
