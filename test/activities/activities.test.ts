import { beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { MALFORMED_ATTEMPTS } from '../../src/activities/failures';
import { ErrorType } from '../../src/domain';
import { buildClients } from '../../src/worker';
import { failureOf, runActivity, useActivitySandboxes } from '../support/activities';

const stack = useActivitySandboxes();
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  runActivity(fn, 1, ...args);
let sandboxes: ReturnType<typeof stack>['sandboxes'];
let activities: ReturnType<typeof stack>['activities'];
beforeEach(() => ({ sandboxes, activities } = stack()));

describe('saga activities against the sandboxes', () => {
  it('cancels a Stripe Climate order inside its window and reports refund and kept fees', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_a1', amount_subtotal: 550, amount_fees: 17 }] });
    const result = await run(activities.cancelStripeClimateOrder, {
      orderId: 'climorder_a1',
      idempotencyKey: 'refund-o:carbon:1',
    });
    expect(result).toEqual({
      outcome: 'reversed',
      refunded: { value: '5.50', currency: 'USD' },
      feesNotRefunded: { value: '0.17', currency: 'USD' },
      tonnes: '0.01',
      detail: 'cancelled',
    });
  });

  it('treats an order that is already canceled as done, without cancelling again', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_a2', status: 'canceled' }] });
    const result = await run(activities.cancelStripeClimateOrder, { orderId: 'climorder_a2', idempotencyKey: 'k' });
    expect(result.outcome).toBe('already_reversed');
    expect(sandboxes.stripeClimate.ledgerEntries('climorder_a2')).toEqual([]);
  });

  it('checks the 24 h window before acting: a 25 h old order fails as WindowClosed, non-retryable, with no cancel sent', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_a3', ageSeconds: 25 * 3600 }] });
    const failure = await failureOf(
      run(activities.cancelStripeClimateOrder, { orderId: 'climorder_a3', idempotencyKey: 'k' }),
    );
    expect(failure).toMatchObject({ type: ErrorType.WindowClosed, nonRetryable: true });
    expect(failure.message).toContain('25 h ago');
  });

  it('refuses a confirmed SQUAKE purchase as WindowClosed', async () => {
    sandboxes.squake.addFixtures({ purchases: [{ id: 'purchase_c1', state: 'confirmed' }] });
    const failure = await failureOf(
      run(activities.cancelSquakePurchase, { purchaseId: 'purchase_c1', idempotencyKey: 'k' }),
    );
    expect(failure).toMatchObject({ type: ErrorType.WindowClosed, nonRetryable: true });
  });

  it('turns a Circle "not eligible" answer into a non-retryable NotEligible with the provider request id', async () => {
    sandboxes.circle.addFixtures({ payments: [{ id: 'b8627ae8-732b-4d25-b947-1df8f4007a29', status: 'failed' }] });
    const failure = await failureOf(
      run(activities.cancelCirclePayment, {
        paymentId: 'b8627ae8-732b-4d25-b947-1df8f4007a29',
        idempotencyKey: '6f1f9c3e-2b4a-4c8d-9e7f-1a2b3c4d5e6f',
      }),
    );
    expect(failure).toMatchObject({ type: ErrorType.NotEligible, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ provider: 'circle', status: 400, requestId: expect.any(String) });
  });

  it('turns a 429 into a retryable failure that waits the Retry-After', async () => {
    sandboxes.squake.addFixtures({ purchases: [{ id: 'purchase_r1' }] });
    sandboxes.squake.addFault({ route: 'getPurchase', failNext: 1, status: 429, retryAfterSeconds: 30 });
    const failure = await failureOf(
      run(activities.cancelSquakePurchase, { purchaseId: 'purchase_r1', idempotencyKey: 'k' }),
    );
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(30_000);
  });

  it('turns a wrong key into a non-retryable Unauthorized that names no secret', async () => {
    sandboxes.oneClickImpact.addFixtures({ impacts: [{ user_id: 'U1', time_utc: '2025-03-12T15:22:14.753Z' }] });
    const wrong = createActivities(
      buildClients({
        circle: { baseUrl: sandboxes.urls.circle, apiKey: 'x' },
        stripeClimate: { baseUrl: sandboxes.urls.stripeClimate, secretKey: 'x' },
        squake: { baseUrl: sandboxes.urls.squake, token: 'x' },
        oneClickImpact: { baseUrl: sandboxes.urls.oneClickImpact, apiKey: 'not-the-key' },
        impactRecon: { baseUrl: sandboxes.urls.impactRecon, apiKey: 'x' },
      }),
    );
    const failure = await failureOf(run(wrong.cancelImpact, { userId: 'U1', timeUtc: '2025-03-12T15:22:14.753Z' }));
    expect(failure).toMatchObject({ type: ErrorType.Unauthorized, nonRetryable: true });
    expect(JSON.stringify(failure.details)).not.toContain('not-the-key');
  });

  it('finds the reversal among more than 100 records in the window, reading every page', async () => {
    const id = 'b7e9c4a2-8f31-4d6e-a529-3c7b8e1f0d42';
    const since = new Date(Date.now() - 3_600_000).toISOString();
    sandboxes.impactRecon.configure({ reversalDelayMs: 0 });
    sandboxes.impactRecon.addFixtures({
      allocations: [
        {
          fundsAllocationId: id,
          consumerReference: 'consumer_123',
          fundsDateTime: new Date(Date.now() - 7_200_000).toISOString(),
        },
      ],
      generate: { count: 150, from: since, spacingSeconds: 10, consumerReference: 'consumer_123' },
    });
    const before = await run(activities.findReconReversal, {
      fundsAllocationId: id,
      consumerReference: 'consumer_123',
      since,
    });
    expect(before).toEqual({ kind: 'none', scanned: 150 });
    sandboxes.impactRecon.reverse(id);
    const after = await run(activities.findReconReversal, {
      fundsAllocationId: id,
      consumerReference: 'consumer_123',
      since,
    });
    expect(after).toMatchObject({ kind: 'matched', scanned: 151 });
  });
});

describe('a malformed answer from a provider', () => {
  it('is retried (it says nothing of whether the provider acted), and blocks as MalformedResponse only on the fifth attempt', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_m1' }] });
    sandboxes.stripeClimate.addFault({ route: 'retrieveOrder', malformed: true });
    const input = { orderId: 'climorder_m1', idempotencyKey: 'refund-o:carbon:1' };
    for (const attempt of [1, MALFORMED_ATTEMPTS - 1]) {
      const failure = await failureOf(runActivity(activities.cancelStripeClimateOrder, attempt, input));
      expect(failure.nonRetryable).toBe(false);
      expect(failure.type).toBe('ProviderMalformedResponseError');
    }
    const last = await failureOf(runActivity(activities.cancelStripeClimateOrder, MALFORMED_ATTEMPTS, input));
    expect(last).toMatchObject({ nonRetryable: true, type: ErrorType.MalformedResponse });
    expect(sandboxes.stripeClimate.ledgerEntries('climorder_m1')).toEqual([]);
  });
});
