import { describe, expect, it } from 'vitest';
import { startRefund } from '../../src/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { abortUpdate, ErrorType, retryStepUpdate, skipStepUpdate, statusQuery } from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const stack = useSagaStack();

const who = { operator: 'ops@example.com', reason: 'checked with the provider' };

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function effects(resource: string, sandbox: { ledgerEntries(r: string): Array<{ effect: string }> }) {
  return sandbox.ledgerEntries(resource).map((e) => e.effect);
}

describe('refundSaga end to end (dev server, real worker, provider sandboxes over HTTP)', () => {
  it('reverses every provider exactly once, even when answers are lost and providers fail transiently', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    sandboxes.circle.addFault({ route: 'cancelPayment', failNext: 1, status: 502, when: 'after' });
    sandboxes.oneClickImpact.addFault({ route: 'cancelImpact', failNext: 1, status: 503, when: 'after' });
    sandboxes.stripeClimate.addFault({ route: 'retrieveOrder', failNext: 1, status: 429, retryAfterSeconds: 1 });

    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const result = await env.client.workflow.getHandle<typeof refundSaga>(started.workflowId).result();

    expect(result).toMatchObject({
      outcome: 'completed',
      payment: { outcome: 'reversed', settlement: 'confirmed' },
      carbon: {
        outcome: 'reversed',
        refunded: { value: '5.50', currency: 'USD' },
        feesNotRefunded: { value: '0.17', currency: 'USD' },
      },
      // The first cancel took effect but its answer was lost; the retry hears "impact was already cancelled" with the
      // reason this saga sent, so the cancel is counted as this saga's.
      impact: { outcome: 'reversed', reversed: { trees: 3 } },
      recon: { outcome: 'reversed' },
    });
    expect(effects(request.payment.paymentId, sandboxes.circle)).toEqual(['cancellation', 'void']);
    expect(effects(request.carbon.orderId, sandboxes.stripeClimate)).toEqual(['cancellation']);
    expect(effects(`U42|${request.impact.timeUtc}`, sandboxes.oneClickImpact)).toEqual(['cancellation']);
    expect(effects(request.recon.fundsAllocationId, sandboxes.impactRecon)).toEqual(['reversal']);
  });

  it('blocks on a Stripe order past its 24 h window, and completes after an operator skips it, cancelling nothing there', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);

    const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');
    expect(blocked.steps.carbon.lastError).toMatchObject({
      type: 'WindowClosed',
      message: expect.stringContaining('24 h'),
    });
    await handle.executeUpdate(skipStepUpdate, {
      args: [{ step: 'carbon', operator: 'ops@example.com', reason: 'refunded by hand', evidence: 'Stripe dashboard' }],
    });
    const result = await handle.result();

    expect(result).toMatchObject({
      outcome: 'completed',
      carbon: { outcome: 'skipped' },
      impact: { outcome: 'reversed' },
    });
    expect((await handle.query(statusQuery)).overrides).toHaveLength(1);
    expect(effects(request.carbon.orderId, sandboxes.stripeClimate)).toEqual([]);
    expect(effects(request.payment.paymentId, sandboxes.circle)).toEqual(['cancellation', 'void']);
  });

  it('does not report "nothing changed" when Circle applied a cancel whose answer was lost and then went down: abort waits for a retry that reads Circle', async () => {
    const { env, sandboxes, taskQueue } = stack();
    // The carbon order is past its window, so the saga stays blocked there once the pivot has passed.
    const request = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
    const { paymentId } = request.payment;
    sandboxes.circle.addFault({ route: 'cancelPayment', failNext: 1, status: 502, when: 'after' });
    const started = await startRefund(env.client, request, {
      taskQueue,
      sagaOptions: { ...FAST_POLLING, outageEscalationMs: 3000 },
    });
    const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);

    // Circle took the cancel and lost the answer; from now on it answers nothing but 503s.
    await until(() => effects(paymentId, sandboxes.circle).includes('cancellation'));
    sandboxes.circle.addFault({ route: '*', errorRate: 1, status: 503 });
    const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention', 30_000);
    expect(blocked.steps.payment.lastError).toMatchObject({
      type: ErrorType.ProviderOutage,
      message: expect.stringContaining("the payment's state is unknown; retry first"),
    });
    const refused = await handle.executeUpdate(abortUpdate, { args: [who] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused as WorkflowUpdateFailedError).cause as Error).message).toContain(
      "the payment's state is unknown; retry first",
    );

    await fetch(`${sandboxes.urls.circle}/_sandbox/faults`, { method: 'DELETE' });
    await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
    await waitForStatus(handle, (s) => s.steps.payment.state === 'succeeded' && s.steps.carbon.state === 'blocked');
    await handle.executeUpdate(abortUpdate, { args: [who] });
    const result = await handle.result();

    expect(result).toMatchObject({
      outcome: 'aborted',
      // The retry's key was new, but Circle replayed the first key's cancel: this saga's, not someone else's.
      payment: { outcome: 'reversed', settlement: 'confirmed', amount: { value: '12.60', currency: 'USD' } },
      leftForManualHandling: ['carbon', 'impact', 'recon'],
    });
    expect(effects(paymentId, sandboxes.circle)).toEqual(['cancellation', 'void']);
  });

  it('gets past a 500 that Stripe stored under the key by itself, with a new key after a backoff', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', failNext: 1, status: 500 });
    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'completed', carbon: { outcome: 'reversed' }, overrides: [] });
    expect(effects(request.carbon.orderId, sandboxes.stripeClimate)).toEqual(['cancellation']);
    // The first key's stored 500 was replayed once, to the check of earlier keys: nothing else reached Stripe.
    expect(sandboxes.stripeClimate.duplicateAttempts()).toEqual([]);
  });

  it('waits for an operator retry, which sends a new key, when the outage bound leaves no time for one', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', failNext: 1, status: 500 });
    // The stored 500 is replayed on the activity's retry 2 s after the call began; a new key after 2 s more would
    // pass this 3 s bound.
    const started = await startRefund(env.client, request, {
      taskQueue,
      sagaOptions: { ...FAST_POLLING, outageEscalationMs: 3_000 },
    });
    const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);

    const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention', 30_000);
    expect(blocked.steps.carbon.lastError).toMatchObject({ type: ErrorType.DoNotRetry, status: 500 });
    expect(effects(request.carbon.orderId, sandboxes.stripeClimate)).toEqual([]);

    await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'carbon', ...who }] });
    const result = await handle.result();
    expect(result).toMatchObject({
      outcome: 'completed',
      carbon: { outcome: 'reversed', refunded: { value: '5.50' }, feesNotRefunded: { value: '0.17' } },
    });
    expect(effects(request.carbon.orderId, sandboxes.stripeClimate)).toEqual(['cancellation']);
  });
});
