/**
 * Finance figures from the providers themselves (activities over the sandboxes, real HTTP): amounts are Circle's,
 * and a resource found cancelled is this saga's when the provider shows our own request made it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { impactCancelReason } from '../../src/activities/cancel-impact';
import { ErrorType } from '../../src/domain';
import { sandboxClients } from '../support/sandboxes';
import { failureOf, runActivity as run, useActivitySandboxes } from '../support/activities';

const stack = useActivitySandboxes();
let sandboxes: ReturnType<typeof stack>['sandboxes'];
let activities: ReturnType<typeof stack>['activities'];
beforeEach(() => ({ sandboxes, activities } = stack()));
const PAYMENT = 'c0a8e4b2-1f3d-4e5a-9b6c-7d8e9f0a1b2c';
const KEY_1 = '6f1f9c3e-2b4a-4c8d-9e7f-1a2b3c4d5e6f';
const KEY_2 = '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
const USD = (value: string) => ({ value, currency: 'USD' });
const effects = (sandbox: { ledgerEntries(r: string): Array<{ effect: string }> }, resource: string) =>
  sandbox.ledgerEntries(resource).map((e) => e.effect);

describe('the Circle pivot, read before it acts', () => {
  it('stops before cancelling when the request’s amount is not the payment’s, and cancels Circle’s amount once accepted', async () => {
    sandboxes.circle.addFixtures({ payments: [{ id: PAYMENT, amount: { amount: '50.00', currency: 'USD' } }] });
    const input = { paymentId: PAYMENT, idempotencyKey: KEY_1, earlierKeys: [], expectedAmount: USD('12.60') };
    const failure = await failureOf(run(activities.cancelCirclePayment, 1, input));
    expect(failure).toMatchObject({ type: ErrorType.AmountMismatch, nonRetryable: true });
    expect(failure.message).toMatch(/12\.60 USD.*50\.00 USD/);
    expect(effects(sandboxes.circle, PAYMENT)).toEqual([]);

    const accepted = await run(activities.cancelCirclePayment, 1, { ...input, acceptAmount: true });
    expect(accepted).toMatchObject({ status: 'pending', amount: USD('50.00'), byThisSaga: true });
    expect(effects(sandboxes.circle, PAYMENT)).toEqual(['cancellation']);
  });

  it('reports a cancel whose answer was lost as this saga’s on the retry, without cancelling twice', async () => {
    sandboxes.circle.addFixtures({ payments: [{ id: PAYMENT }] });
    sandboxes.circle.addFault({ route: 'cancelPayment', failNext: 1, status: 502, when: 'after' });
    const input = { paymentId: PAYMENT, idempotencyKey: KEY_1, earlierKeys: [], expectedAmount: USD('12.60') };
    const lost = await failureOf(run(activities.cancelCirclePayment, 1, input));
    expect(lost.nonRetryable).toBe(false);
    const retried = await run(activities.cancelCirclePayment, 2, input);
    expect(retried).toMatchObject({ status: 'pending', amount: USD('12.60'), byThisSaga: true });
    expect(effects(sandboxes.circle, PAYMENT)).toEqual(['cancellation']);
  });

  it('reports a cancel made with an earlier generation’s key as this saga’s, and someone else’s as already made', async () => {
    sandboxes.circle.addFixtures({ payments: [{ id: PAYMENT }] });
    const clients = sandboxClients(sandboxes);
    await clients.circle.cancelPayment(PAYMENT, {}, { idempotencyKey: KEY_1 });
    const read = await run(activities.getCircleCancelStatus, 1, { paymentId: PAYMENT, keys: [KEY_2, KEY_1] });
    expect(read).toMatchObject({ status: 'pending', byThisSaga: true });
    const foreign = await run(activities.getCircleCancelStatus, 1, { paymentId: PAYMENT, keys: [KEY_2] });
    expect(foreign).toMatchObject({ status: 'pending', byThisSaga: false });
    const cancel = await run(activities.cancelCirclePayment, 1, {
      paymentId: PAYMENT,
      idempotencyKey: KEY_2,
      earlierKeys: [],
      expectedAmount: USD('12.60'),
    });
    expect(cancel).toMatchObject({ status: 'pending', byThisSaga: false });
    expect(effects(sandboxes.circle, PAYMENT)).toEqual(['cancellation']);
  });

  it('reads a payment without a cancel as none, with Circle’s amount', async () => {
    sandboxes.circle.addFixtures({ payments: [{ id: PAYMENT, amount: { amount: '7.00', currency: 'EUR' } }] });
    expect(await run(activities.getCircleCancelStatus, 1, { paymentId: PAYMENT, keys: [KEY_1] })).toEqual({
      status: 'none',
      amount: { value: '7.00', currency: 'EUR' },
    });
  });
});

describe('carbon and impact: who cancelled, and what came back', () => {
  it('reports a Stripe cancel whose answer was lost as reversed on the retry, with fees kept', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_lost1', amount_subtotal: 550, amount_fees: 17 }] });
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', failNext: 1, status: 502, when: 'after' });
    const input = { orderId: 'climorder_lost1', idempotencyKey: 'refund-o:carbon:1', earlierKeys: [] };
    await failureOf(run(activities.cancelStripeClimateOrder, 1, input));
    const retried = await run(activities.cancelStripeClimateOrder, 2, input);
    expect(retried).toMatchObject({
      outcome: 'reversed',
      refunded: USD('5.50'),
      feesNotRefunded: USD('0.17'),
    });
    expect(effects(sandboxes.stripeClimate, 'climorder_lost1')).toEqual(['cancellation']);
  });

  it('reports a Stripe order cancelled before the saga as already reversed', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_before1', status: 'canceled' }] });
    const result = await run(activities.cancelStripeClimateOrder, 1, {
      orderId: 'climorder_before1',
      idempotencyKey: 'refund-o:carbon:1',
      earlierKeys: [],
    });
    expect(result).toMatchObject({ outcome: 'already_reversed', detail: expect.stringContaining('before this saga') });
  });

  it('reports an order Frontier cancelled as already reversed with amount_total refunded and no fees kept', async () => {
    sandboxes.stripeClimate.addFixtures({
      orders: [
        {
          id: 'climorder_frontier1',
          status: 'canceled',
          cancellation_reason: 'product_unavailable',
          amount_subtotal: 550,
          amount_fees: 17,
        },
      ],
    });
    const result = await run(activities.cancelStripeClimateOrder, 1, {
      orderId: 'climorder_frontier1',
      idempotencyKey: 'refund-o:carbon:1',
      earlierKeys: [],
    });
    expect(result).toMatchObject({ outcome: 'already_reversed', refunded: USD('5.67') });
    expect(result.feesNotRefunded).toBeUndefined();
  });

  it.each([
    ['voided', 'nothing is charged'],
    ['refunded', 'refunded by SQUAKE'],
    ['payment_aborted', 'nothing was charged'],
  ] as const)('maps a SQUAKE purchase found %s to already reversed, saying what it means', async (state, meaning) => {
    sandboxes.squake.addFixtures({ purchases: [{ id: `purchase_${state.replace('_', '')}`, state }] });
    const result = await run(activities.cancelSquakePurchase, 1, {
      purchaseId: `purchase_${state.replace('_', '')}`,
      idempotencyKey: 'k',
      earlierKeys: [],
    });
    expect(result).toMatchObject({ outcome: 'already_reversed', detail: expect.stringContaining(meaning) });
  });

  it('refuses a SQUAKE purchase whose checkout payment is under way as not eligible, and a settled one as closed', async () => {
    sandboxes.squake.addFixtures({
      purchases: [
        { id: 'purchase_busy1', state: 'payment_initiated' },
        { id: 'purchase_settled1', state: 'settled' },
      ],
    });
    const busy = await failureOf(
      run(activities.cancelSquakePurchase, 1, { purchaseId: 'purchase_busy1', idempotencyKey: 'k', earlierKeys: [] }),
    );
    expect(busy).toMatchObject({ type: ErrorType.NotEligible, nonRetryable: true });
    const settled = await failureOf(
      run(activities.cancelSquakePurchase, 1, {
        purchaseId: 'purchase_settled1',
        idempotencyKey: 'k',
        earlierKeys: [],
      }),
    );
    expect(settled).toMatchObject({ type: ErrorType.WindowClosed, nonRetryable: true });
  });

  it('reports a SQUAKE cancel whose answer was lost as reversed on the retry', async () => {
    sandboxes.squake.addFixtures({ purchases: [{ id: 'purchase_lost1' }] });
    sandboxes.squake.addFault({ route: 'cancelPurchase', failNext: 1, status: 503, when: 'after' });
    const input = { purchaseId: 'purchase_lost1', idempotencyKey: 'k', earlierKeys: [] };
    await failureOf(run(activities.cancelSquakePurchase, 1, input));
    expect(await run(activities.cancelSquakePurchase, 2, input)).toMatchObject({ outcome: 'reversed' });
    expect(effects(sandboxes.squake, 'purchase_lost1')).toEqual(['cancellation']);
  });

  it('reports an impact cancel whose answer was lost as this saga’s, and one cancelled by someone else as already reversed', async () => {
    const mine = { user_id: 'U7', time_utc: '2025-03-12T15:22:14.753Z', tree_planted: 4 };
    const theirs = { user_id: 'U8', time_utc: '2025-03-12T15:22:14.753Z', tree_planted: 2 };
    sandboxes.oneClickImpact.addFixtures({ impacts: [mine, theirs] });
    sandboxes.oneClickImpact.addFault({ route: 'cancelImpact', failNext: 1, status: 503, when: 'after' });
    const input = { userId: 'U7', timeUtc: mine.time_utc, reason: 'order refunded', sagaId: 'refund-ord_9' };
    await failureOf(run(activities.cancelImpact, 1, input));
    expect(await run(activities.cancelImpact, 2, input)).toMatchObject({ outcome: 'reversed', reversed: { trees: 4 } });

    await sandboxClients(sandboxes).oneClickImpact.cancelImpact({
      user_id: 'U8',
      time_utc: theirs.time_utc,
      reason: 'cancelled in the dashboard',
    });
    expect(await run(activities.cancelImpact, 1, { ...input, userId: 'U8' })).toMatchObject({
      outcome: 'already_reversed',
    });
  });

  it('keeps the impact cancel reason within 200 characters, ending with the saga id', () => {
    const reason = impactCancelReason('x'.repeat(200), 'refund-ord_9');
    expect(reason).toHaveLength(200);
    expect(reason.endsWith(' [refund-ord_9]')).toBe(true);
  });
});
