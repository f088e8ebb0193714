import { describe, expect, it } from 'vitest';
import { startRefund } from '../../src/client';
import { skipStepUpdate, statusQuery } from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const stack = useSagaStack();

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
      // The first cancel took effect but its answer was lost; the retry hears "impact was already cancelled".
      impact: { outcome: 'already_reversed', reversed: { trees: 3 } },
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
});
