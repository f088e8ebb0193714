import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRefund } from '../../src/client';
import { skipStepUpdate, statusQuery } from '../../src/domain';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sagaWorkerOptions } from '../../src/worker';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';
import type { refundSaga } from '../../src/workflows';
import { validRequest } from '../support/fixtures';
import { waitForStatus } from '../support/saga';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

/** Real-time polling for a real server: short intervals so the sagas finish in seconds. */
const FAST = { pollInitialMs: 200, pollMaxMs: 1000 };
const randomId = () => Math.random().toString(36).slice(2, 10);

let env: TestWorkflowEnvironment;
let sandboxes: RunningSandboxes;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('e2e');

beforeAll(async () => {
  env = await devServerEnvironment();
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 300 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 300 });
  const clients = sandboxClients(sandboxes, 1000);
  worker = await Worker.create(
    sagaWorkerOptions(clients, { taskQueue, connection: env.nativeConnection, workflowBundle: workflowBundle() }),
  );
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await sandboxes?.close();
  await env?.teardown();
});

/** Seeds one order's resources in the sandboxes and returns its refund request. */
function seedOrder(stripeAgeSeconds = 3600) {
  const paymentId = crypto.randomUUID();
  const allocationId = crypto.randomUUID();
  const orderId = `climorder_${randomId()}`;
  const timeUtc = new Date(Date.now() - Math.floor(Math.random() * 1e9)).toISOString();
  const consumerReference = `consumer_${randomId()}`;
  sandboxes.circle.addFixtures({ payments: [{ id: paymentId }] });
  sandboxes.stripeClimate.addFixtures({ orders: [{ id: orderId, ageSeconds: stripeAgeSeconds }] });
  sandboxes.impactRecon.addFixtures({
    allocations: [
      {
        fundsAllocationId: allocationId,
        consumerReference,
        fundsDateTime: new Date(Date.now() - 60_000).toISOString(),
      },
    ],
  });
  sandboxes.oneClickImpact.addFixtures({
    impacts: [{ user_id: 'U42', time_utc: timeUtc, tree_planted: 3, fundsAllocationId: allocationId }],
  });
  return {
    ...validRequest(`ord_e2e_${randomId()}`),
    payment: { provider: 'circle', paymentId },
    carbon: { provider: 'stripe_climate' as const, orderId },
    impact: { provider: '1clickimpact' as const, userId: 'U42', timeUtc },
    recon: { fundsAllocationId: allocationId, consumerReference },
  };
}

function effects(resource: string, sandbox: { ledgerEntries(r: string): Array<{ effect: string }> }) {
  return sandbox.ledgerEntries(resource).map((e) => e.effect);
}

describe('refundSaga end to end (dev server, real worker, provider sandboxes over HTTP)', () => {
  it('reverses every provider exactly once, even when answers are lost and providers fail transiently', async () => {
    const request = seedOrder();
    sandboxes.circle.addFault({ route: 'cancelPayment', failNext: 1, status: 502, when: 'after' });
    sandboxes.oneClickImpact.addFault({ route: 'cancelImpact', failNext: 1, status: 503, when: 'after' });
    sandboxes.stripeClimate.addFault({ route: 'retrieveOrder', failNext: 1, status: 429, retryAfterSeconds: 1 });

    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST });
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
    const request = seedOrder(25 * 3600);
    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST });
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
