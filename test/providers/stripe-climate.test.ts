import { describe, expect, it } from 'vitest';
import { StripeClimateClient } from '../../src/providers/stripe-climate/client';
import { StripeClimateSandbox } from '../../src/providers/stripe-climate/sandbox';
import {
  ProviderIdempotencyConflictError,
  ProviderUnavailableError,
  ProviderValidationError,
} from '../../src/providers/errors';
import { itClassifiesErrors } from '../support/error-contract';
import { ManualClock, rejectionOf, useSandbox } from '../support/sandboxes';
import { readLedger } from './ledger-view';

const HOUR = 3600;
const clock = new ManualClock();
const { sandbox, url } = useSandbox(new StripeClimateSandbox({ now: clock.now }));
const client = (secretKey = sandbox.apiKey) => new StripeClimateClient({ secretKey, baseUrl: url(), timeoutMs: 2000 });

function seedOrder(fields: Record<string, unknown> = {}): string {
  const { orders } = sandbox.addFixtures({ orders: [fields] }) as { orders: Array<{ id: string }> };
  return orders[0]!.id;
}

describe('Stripe Climate client against the Stripe sandbox', () => {
  it('cancels an order created 23 h ago: subtotal refunded, fees kept', async () => {
    const id = seedOrder({ ageSeconds: 23 * HOUR, amount_subtotal: 550, amount_fees: 17 });
    const { order, requestId, replayed } = await client().cancelOrder(id, { idempotencyKey: 'refund-ord_1-carbon' });
    expect(order).toMatchObject({ id, status: 'canceled', cancellation_reason: 'requested', amount_fees: 17 });
    expect(order.canceled_at).toBe(Math.floor(clock.ms / 1000));
    expect(requestId).toMatch(/^req_/);
    expect(replayed).toBe(false);
    expect(sandbox.ledgerEntries(id)).toEqual([
      expect.objectContaining({ effect: 'cancellation', detail: { refunded: 550, feesKept: 17, currency: 'usd' } }),
    ]);
  });

  it('refuses to cancel an order created 25 h ago: outside the 24 h window, permanent', async () => {
    const id = seedOrder({ ageSeconds: 25 * HOUR });
    const err = await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k1' }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({ status: 400, retryable: false, code: 'invalid_request_error' });
    expect((err as Error).message).toContain('within 24 hours');
    expect((err as ProviderValidationError).requestId).toMatch(/^req_/);
    expect(sandbox.ledgerEntries(id)).toEqual([]);
  });

  it('refuses to cancel a delivered order', async () => {
    const err = await rejectionOf(client().cancelOrder(seedOrder({ status: 'delivered' }), { idempotencyKey: 'k1' }));
    expect(err).toMatchObject({ status: 400, retryable: false, message: expect.stringContaining("'delivered'") });
  });

  it('replays the first answer for the same Idempotency-Key, marked Idempotent-Replayed, with one effect', async () => {
    const id = seedOrder();
    const first = await client().cancelOrder(id, { idempotencyKey: 'refund-ord_1-carbon' });
    const second = await client().cancelOrder(id, { idempotencyKey: 'refund-ord_1-carbon' });
    expect(second.order).toEqual(first.order);
    expect(second.replayed).toBe(true);
    expect(sandbox.ledgerEntries(id)).toHaveLength(1);
  });

  it('refuses a second cancel under a new key, canceled already, and records it as one duplicate attempt', async () => {
    const id = seedOrder();
    await client().cancelOrder(id, { idempotencyKey: 'k-first' });
    const err = await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-second' }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect((err as Error).message).toContain("status is 'canceled'");
    // Its retry replays the stored refusal: still one attempt.
    await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-second' }));

    const ledger = await readLedger(url(), id);
    expect(ledger.counts).toEqual({ [id]: { cancellation: 1 } });
    expect(ledger.duplicateAttempts).toEqual({ [id]: 1 });
    expect(ledger.entries.map((e) => [e.effect, e.detail])).toEqual([
      ['cancellation', { refunded: 550, feesKept: 17, currency: 'usd' }],
      ['duplicate_attempt', { key: 'k-second', cancelledWithKey: 'k-first' }],
    ]);
  });

  it('records no duplicate attempt for a replay of the cancelling key', async () => {
    const id = seedOrder();
    await client().cancelOrder(id, { idempotencyKey: 'k-first' });
    expect((await client().cancelOrder(id, { idempotencyKey: 'k-first' })).replayed).toBe(true);
    expect(await readLedger(url(), id)).toMatchObject({ counts: { [id]: { cancellation: 1 } }, duplicateAttempts: {} });
  });

  it('records no duplicate attempt for a cancel refused for another reason: the window closed, canceled before', async () => {
    const late = seedOrder({ ageSeconds: 25 * HOUR });
    await rejectionOf(client().cancelOrder(late, { idempotencyKey: 'k1' }));
    await rejectionOf(client().cancelOrder(late, { idempotencyKey: 'k2' }));
    const canceledBefore = seedOrder({ status: 'canceled', cancellation_reason: 'expired' });
    await rejectionOf(client().cancelOrder(canceledBefore, { idempotencyKey: 'k3' }));
    expect(sandbox.duplicateAttempts()).toEqual([]);
    expect(await readLedger(url(), late)).toEqual({ counts: {}, duplicateAttempts: {}, entries: [] });
  });

  it('answers idempotency_error for a key reused on another order, as a permanent idempotency conflict', async () => {
    await client().cancelOrder(seedOrder(), { idempotencyKey: 'shared-key' });
    const other = seedOrder();
    const err = await rejectionOf(client().cancelOrder(other, { idempotencyKey: 'shared-key' }));
    expect(err).toBeInstanceOf(ProviderIdempotencyConflictError);
    expect(err).not.toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({ status: 400, code: 'idempotency_error', retryable: false });
    expect(sandbox.ledgerEntries(other)).toEqual([]);
  });

  it('keeps one effect when the answer is lost and the cancel is retried with its key', async () => {
    const id = seedOrder();
    sandbox.addFault({ route: 'cancelOrder', failNext: 1, status: 500, when: 'after' });
    expect(await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-lost' }))).toBeInstanceOf(
      ProviderUnavailableError,
    );
    // The cancel took effect before its answer was lost; Stripe kept that answer and replays it.
    const retry = await client().cancelOrder(id, { idempotencyKey: 'k-lost' });
    expect(retry).toMatchObject({ replayed: true, order: { status: 'canceled' } });
    expect(sandbox.ledgerEntries(id)).toHaveLength(1);
  });

  it('stores a 500 under its key and replays it as not worth retrying; only a new key gets past it', async () => {
    const id = seedOrder();
    sandbox.addFault({ route: 'cancelOrder', failNext: 1, status: 500 });
    const first = await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-500' }));
    expect(first).toBeInstanceOf(ProviderUnavailableError);
    expect(first).toMatchObject({ status: 500, retryable: true });

    const replayed = await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-500' }));
    expect(replayed).toBeInstanceOf(ProviderUnavailableError);
    expect(replayed).toMatchObject({ status: 500, retryable: false, shouldRetry: false });
    expect(sandbox.ledgerEntries(id)).toEqual([]);

    const fresh = await client().cancelOrder(id, { idempotencyKey: 'k-new' });
    expect(fresh).toMatchObject({ replayed: false, order: { status: 'canceled' } });
    expect(sandbox.ledgerEntries(id).map((e) => e.effect)).toEqual(['cancellation']);
  });

  it('replays a stored 500 with Idempotent-Replayed: true and Stripe-Should-Retry: false', async () => {
    const id = seedOrder();
    sandbox.addFault({ route: 'cancelOrder', failNext: 1, status: 500 });
    const post = () =>
      fetch(`${url()}/v1/climate/orders/${id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sandbox.apiKey}`, 'idempotency-key': 'k-raw' },
      });
    expect((await post()).status).toBe(500);
    const replay = await post();
    expect(replay.status).toBe(500);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('stripe-should-retry')).toBe('false');
    expect(((await replay.json()) as { error: { type: string } }).error.type).toBe('api_error');
  });

  it('answers the injected fault to a body it cannot parse, and stores nothing under the key', async () => {
    const id = seedOrder();
    sandbox.addFault({ route: 'cancelOrder', failNext: 1, status: 500 });
    const garbled = await fetch(`${url()}/v1/climate/orders/${id}/cancel`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${sandbox.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': 'k-bad',
      },
      body: '{',
    });
    expect(garbled.status).toBe(500);
    const retry = await client().cancelOrder(id, { idempotencyKey: 'k-bad' });
    expect(retry).toMatchObject({ replayed: false, order: { status: 'canceled' } });
  });

  it('does not store an injected 429 under the key: the retry goes through', async () => {
    const id = seedOrder();
    sandbox.addFault({ route: 'cancelOrder', failNext: 1, status: 429 });
    await rejectionOf(client().cancelOrder(id, { idempotencyKey: 'k-429' }));
    const retry = await client().cancelOrder(id, { idempotencyKey: 'k-429' });
    expect(retry).toMatchObject({ replayed: false, order: { status: 'canceled' } });
  });

  it('accepts the secret key as Basic auth too', async () => {
    const id = seedOrder();
    const basic = await fetch(`${url()}/v1/climate/orders/${id}`, {
      headers: { authorization: `Basic ${Buffer.from(`${sandbox.apiKey}:`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  it('takes form-encoded cancel bodies and treats other parameters under the same key as a different request', async () => {
    const id = seedOrder();
    const post = (body: string) =>
      fetch(`${url()}/v1/climate/orders/${id}/cancel`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${sandbox.apiKey}`,
          'content-type': 'application/x-www-form-urlencoded',
          'idempotency-key': 'form-key',
        },
        body,
      });
    expect((await post('expand[]=product')).status).toBe(200);
    const conflict = await post('expand[]=beneficiary');
    expect(conflict.status).toBe(400);
    expect(((await conflict.json()) as { error: { type: string } }).error.type).toBe('idempotency_error');
  });

  itClassifiesErrors(() => ({
    provider: 'stripe_climate',
    sandbox,
    route: 'retrieveOrder',
    read: ({ apiKey, timeoutMs }) => client(apiKey).retrieveOrder(seedOrder(), { timeoutMs }),
    readMissing: () => client().retrieveOrder('climorder_missing'),
    malformedField: 'id',
    requestId: /^req_/,
  }));
});
