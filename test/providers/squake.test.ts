import { describe, expect, it } from 'vitest';
import { SquakeClient } from '../../src/providers/squake/client';
import { SquakeSandbox } from '../../src/providers/squake/sandbox';
import { ProviderConflictError, ProviderValidationError } from '../../src/providers/errors';
import { itClassifiesErrors } from '../support/error-contract';
import { ManualClock, rejectionOf, useSandbox } from '../support/sandboxes';
import { readLedger } from './ledger-view';

const clock = new ManualClock();
const { sandbox, url } = useSandbox(new SquakeSandbox({ now: clock.now }));
const client = (token = sandbox.apiKey) => new SquakeClient({ token, baseUrl: url(), timeoutMs: 2000 });

function seedPurchase(fields: Record<string, unknown> = {}): string {
  const { purchases } = sandbox.addFixtures({ purchases: [fields] }) as { purchases: Array<{ id: string }> };
  return purchases[0]!.id;
}

describe('SQUAKE client against the SQUAKE sandbox', () => {
  it('cancels a reserved purchase', async () => {
    const id = seedPurchase({ state: 'reserved', carbon_quantity: 0.5 });
    const { purchase, requestId } = await client().cancelPurchase(id, { idempotencyKey: 'refund-ord_1-carbon' });
    expect(purchase).toMatchObject({ id, state: 'canceled', carbon_quantity: 0.5, carbon_unit: 'tonne' });
    expect(requestId).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(sandbox.ledgerEntries(id).map((e) => e.effect)).toEqual(['cancellation']);
  });

  it('answers a second cancel of a canceled purchase with 200 and the purchase unchanged, and no second effect', async () => {
    const id = seedPurchase();
    const first = await client().cancelPurchase(id, { idempotencyKey: 'k' });
    const second = await client().cancelPurchase(id, { idempotencyKey: 'k' });
    expect(second.purchase).toEqual(first.purchase);
    expect(sandbox.ledgerEntries(id)).toHaveLength(1);
  });

  it('answers a second cancel under another key unchanged, and records it as one duplicate attempt', async () => {
    const id = seedPurchase();
    const first = await client().cancelPurchase(id, { idempotencyKey: 'k-first' });
    const second = await client().cancelPurchase(id, { idempotencyKey: 'k-second' });
    expect(second.purchase).toEqual(first.purchase);
    // The same request again is still one attempt.
    await client().cancelPurchase(id, { idempotencyKey: 'k-second' });

    const ledger = await readLedger(url(), id);
    expect(ledger.counts).toEqual({ [id]: { cancellation: 1 } });
    expect(ledger.duplicateAttempts).toEqual({ [id]: 1 });
    expect(ledger.entries).toContainEqual(
      expect.objectContaining({
        effect: 'duplicate_attempt',
        detail: { key: 'k-second', cancelledWithKey: 'k-first' },
      }),
    );
  });

  it('records no duplicate attempt for a repeat under the cancelling key', async () => {
    const id = seedPurchase();
    await client().cancelPurchase(id, { idempotencyKey: 'k' });
    await client().cancelPurchase(id, { idempotencyKey: 'k' });
    expect(await readLedger(url(), id)).toMatchObject({ counts: { [id]: { cancellation: 1 } }, duplicateAttempts: {} });
  });

  it('records no duplicate attempt for a cancel refused for another reason, or of a purchase canceled before', async () => {
    const confirmed = seedPurchase({ state: 'confirmed' });
    await rejectionOf(client().cancelPurchase(confirmed, { idempotencyKey: 'k1' }));
    await rejectionOf(client().cancelPurchase(confirmed, { idempotencyKey: 'k2' }));
    const canceledBefore = seedPurchase({ state: 'canceled' });
    await client().cancelPurchase(canceledBefore, { idempotencyKey: 'k3' });
    expect(sandbox.duplicateAttempts()).toEqual([]);
    expect(await readLedger(url(), confirmed)).toEqual({ counts: {}, duplicateAttempts: {}, entries: [] });
  });

  it('confirms a purchase when its reservation period ends, and then refuses the cancel with an error array', async () => {
    const id = seedPurchase({ reservationSeconds: 600 });
    expect((await client().getPurchase(id)).purchase.state).toBe('reserved');
    clock.advance(600_000);
    expect((await client().getPurchase(id)).purchase.state).toBe('confirmed');

    const err = await rejectionOf(client().cancelPurchase(id, { idempotencyKey: 'k' }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({ status: 400, code: 'field_validation_error', retryable: false });
    expect((err as Error).message).toContain('only be canceled while reserved');
    expect(sandbox.ledgerEntries(id)).toEqual([]);
  });

  it('answers SQUAKE’s documented error array shape with SQUAKE-Request-Id on every response', async () => {
    const id = seedPurchase({ state: 'confirmed' });
    const response = await fetch(`${url()}/v2/purchases/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.apiKey}` },
    });
    expect(response.headers.get('squake-request-id')).toMatch(/^req_/);
    expect(await response.json()).toEqual([
      {
        code: 'field_validation_error',
        detail: expect.any(String),
        source: { id, attribute: 'state', model: 'purchase' },
      },
    ]);
  });

  it('retries a 409: an earlier cancel with the same key is still in flight', async () => {
    const id = seedPurchase();
    sandbox.addFault({ route: 'cancelPurchase', failNext: 1, status: 409 });
    const err = await rejectionOf(client().cancelPurchase(id, { idempotencyKey: 'k' }));
    expect(err).toBeInstanceOf(ProviderConflictError);
    expect(err).toMatchObject({ provider: 'squake', status: 409, retryable: true });
    expect((await client().cancelPurchase(id, { idempotencyKey: 'k' })).purchase.state).toBe('canceled');
  });

  itClassifiesErrors(() => ({
    provider: 'squake',
    sandbox,
    route: 'getPurchase',
    read: ({ apiKey, timeoutMs }) => client(apiKey).getPurchase(seedPurchase(), { timeoutMs }),
    readMissing: () => client().getPurchase('purchase_missing'),
    malformedField: 'id',
    requestId: /^req_[0-9a-f-]{36}$/,
  }));
});
