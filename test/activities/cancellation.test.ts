/**
 * An activity cancelled while its provider call is in flight rejects with the cancellation signal's own reason, a
 * `CancelledFailure`: the worker reports that as a cancelled activity, where any other error (a ProviderError, axios's
 * CanceledError) would be reported as a failed attempt and retried.
 */
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';

let sandboxes: RunningSandboxes;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  sandboxes = await startTestSandboxes();
  // A client timeout far beyond the test's wait: only the cancellation can end the hanging call in time.
  activities = createActivities(sandboxClients(sandboxes, 30_000));
});
beforeEach(() => {
  for (const s of [
    sandboxes.circle,
    sandboxes.stripeClimate,
    sandboxes.squake,
    sandboxes.oneClickImpact,
    sandboxes.impactRecon,
  ])
    s.reset();
});
afterAll(() => sandboxes?.close());

/** Waits until the sandbox at `url` has taken its one hang fault, i.e. the call is in flight. */
async function untilHanging(url: string, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { faults } = (await (await fetch(`${url}/_sandbox/faults`)).json()) as {
      faults: Array<{ remaining?: number }>;
    };
    if (faults.every((f) => f.remaining === 0)) return;
    if (Date.now() > deadline) throw new Error(`no request reached ${url} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `call` in a mock activity context, cancels it once the provider holds the request, and returns the rejection. */
async function cancelledMidCall(url: string, call: () => Promise<unknown>) {
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const running = env.run(call).then(
    () => {
      throw new Error('expected the activity to be cancelled, but it completed');
    },
    (err: unknown) => err,
  );
  await untilHanging(url);
  const started = Date.now();
  env.cancel();
  const err = await running;
  return { err, reason: env.context.cancellationSignal.reason as unknown, tookMs: Date.now() - started };
}

describe('an activity cancelled mid-call', () => {
  it('reports a cancellation, not a provider failure, when the Circle cancel is in flight (axios)', async () => {
    const paymentId = 'b8627ae8-732b-4d25-b947-1df8f4007a29';
    sandboxes.circle.addFixtures({ payments: [{ id: paymentId }] });
    sandboxes.circle.addFault({ route: 'cancelPayment', failNext: 1, hang: true });
    const { err, reason, tookMs } = await cancelledMidCall(sandboxes.urls.circle, () =>
      activities.cancelCirclePayment({ paymentId, idempotencyKey: '6f1f9c3e-2b4a-4c8d-9e7f-1a2b3c4d5e6f' }),
    );
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err).toBe(reason);
    expect(tookMs).toBeLessThan(5000);
  });

  it('reports a cancellation, not a provider failure, when the Stripe cancel is in flight (stripe-node)', async () => {
    sandboxes.stripeClimate.addFixtures({ orders: [{ id: 'climorder_c1' }] });
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', failNext: 1, hang: true });
    const { err, reason, tookMs } = await cancelledMidCall(sandboxes.urls.stripeClimate, () =>
      activities.cancelStripeClimateOrder({ orderId: 'climorder_c1', idempotencyKey: 'refund-o:carbon:1' }),
    );
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err).toBe(reason);
    expect(tookMs).toBeLessThan(5000);
    expect(sandboxes.stripeClimate.ledgerEntries('climorder_c1')).toEqual([]);
  });

  it('reports a cancellation, not a provider failure, when the 1ClickImpact cancel is in flight (fetch)', async () => {
    const timeUtc = '2025-03-12T15:22:14.753Z';
    sandboxes.oneClickImpact.addFixtures({ impacts: [{ user_id: 'U1', time_utc: timeUtc }] });
    sandboxes.oneClickImpact.addFault({ route: 'cancelImpact', failNext: 1, hang: true });
    const { err, reason, tookMs } = await cancelledMidCall(sandboxes.urls.oneClickImpact, () =>
      activities.cancelImpact({ userId: 'U1', timeUtc }),
    );
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err).toBe(reason);
    expect(tookMs).toBeLessThan(5000);
  });

  it('reports a cancellation when the activity is cancelled before its SQUAKE read is sent (fetch)', async () => {
    sandboxes.squake.addFixtures({ purchases: [{ id: 'purchase_c1' }] });
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    env.cancel();
    const err = await env
      .run(() => activities.cancelSquakePurchase({ purchaseId: 'purchase_c1', idempotencyKey: 'k' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err).toBe(env.context.cancellationSignal.reason);
    expect(sandboxes.squake.ledgerEntries('purchase_c1')).toEqual([]);
  });
});
