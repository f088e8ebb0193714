/**
 * Operators stay in control, on the real stack (dev server, real worker, sandboxes over HTTP): Temporal's own
 * cancellation is an abort, an ended run is never reported as needing attention, and a saga started outside the
 * project's client still works with the Circle webhook.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { signCircleNotification } from '../../src/providers/circle/webhook-signature';
import { operatorToken } from '../support/api-auth';
import { getRefundStatus, listRefunds, startRefund } from '../../src/client';
import {
  abortUpdate,
  CirclePaymentIdKey,
  NeedsAttentionKey,
  RefundStatusKey,
  refundWorkflowId,
} from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { sandboxClients } from '../support/sandboxes';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const WEBHOOK_SECRET = 'webhook-secret-for-operator-tests';
const stack = useSagaStack();
let api: FastifyInstance;

beforeAll(() => {
  const { env, taskQueue } = stack();
  api = buildApi({
    client: env.client,
    authenticator: operatorToken('token'),
    taskQueue,
    webhookSecret: WEBHOOK_SECRET,
  });
});
afterAll(() => api?.close());

async function blockedSaga() {
  const { env, sandboxes, taskQueue } = stack();
  const request = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
  const { workflowId } = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
  const handle = env.client.workflow.getHandle<typeof refundSaga>(workflowId);
  // Blocked on the carbon order, once Circle has settled the cancel.
  await waitForStatus(handle, (s) => s.status === 'needs_attention' && s.steps.payment.state === 'succeeded');
  return { request, handle };
}

describe('operators stay in control (dev server)', () => {
  it('ends a blocked saga cancelled through Temporal (temporal workflow cancel) aborted, and takes it off the needs-attention list', async () => {
    const { env } = stack();
    const { request, handle } = await blockedSaga();
    await handle.cancel();
    const result = await handle.result();

    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'reversed' },
      leftForManualHandling: ['carbon', 'impact', 'recon'],
    });
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.typedSearchAttributes.get(RefundStatusKey)).toBe('aborted');
    expect(description.typedSearchAttributes.get(NeedsAttentionKey)).toBe(false);
    expect((await getRefundStatus(env.client, request.orderId)).status).toBe('aborted');
  });

  it('lets a carbon cancel in flight answer when Temporal cancels the saga, and reports what it did', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    // Slower than usual, within the client's 1 s timeout: long enough to cancel the saga while the call is in flight.
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', latencyMs: 700 });
    try {
      const { workflowId } = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
      const handle = env.client.workflow.getHandle<typeof refundSaga>(workflowId);
      await waitForStatus(handle, (s) => s.steps.carbon.state === 'in_progress');
      await handle.cancel();
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'aborted', carbon: { outcome: 'reversed' } });
      expect(result.leftForManualHandling).not.toContain('carbon');
      expect(sandboxes.stripeClimate.ledgerEntries(request.carbon.orderId).map((e) => e.effect)).toEqual([
        'cancellation',
      ]);
    } finally {
      await fetch(`${sandboxes.urls.stripeClimate}/_sandbox/faults`, { method: 'DELETE' });
    }
  });

  it('aborts at once while the recon read is being retried through an outage, and keeps the abort', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    sandboxes.impactRecon.addFault({ route: '*', errorRate: 1, status: 503 });
    try {
      const { workflowId } = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
      const handle = env.client.workflow.getHandle<typeof refundSaga>(workflowId);
      await waitForStatus(handle, (s) => s.steps.recon.state === 'waiting' && s.steps.payment.state === 'succeeded');
      // The read is failing and being retried; the abort cuts it short, and the saga ends in a later workflow task.
      await handle.executeUpdate(abortUpdate, { args: [{ operator: 'ops@example.com', reason: 'recon is down' }] });
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'aborted', leftForManualHandling: ['recon'] });
      expect(result.overrides.map((o) => o.action)).toEqual(['abort']);
    } finally {
      await fetch(`${sandboxes.urls.impactRecon}/_sandbox/faults`, { method: 'DELETE' });
    }
  });

  it('lists needs-attention sagas by the blocked step’s error type', async () => {
    const { env } = stack();
    const { request, handle } = await blockedSaga();
    const workflowId = refundWorkflowId(request.orderId);
    const listed = async (errorType: 'WindowClosed' | 'ProviderOutage') =>
      (await listRefunds(env.client, { status: 'needs_attention', errorType, pageSize: 100 })).refunds.map(
        (r) => r.workflowId,
      );
    const deadline = Date.now() + 15_000;
    while (!(await listed('WindowClosed')).includes(workflowId) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await listed('WindowClosed')).toContain(workflowId);
    expect(await listed('ProviderOutage')).not.toContain(workflowId);
    const refused = await api.inject({
      method: 'GET',
      url: '/v1/refunds?errorType=Stuck',
      headers: { authorization: 'Bearer token' },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('errorType');
    await handle.terminate('test done');
  });

  it('reports a saga terminated mid-block as terminated, never as needing attention', async () => {
    const { env } = stack();
    const { request, handle } = await blockedSaga();
    await handle.terminate('operator pressed terminate');

    expect((await getRefundStatus(env.client, request.orderId)).status).toBe('terminated');
    const { refunds } = await listRefunds(env.client, { status: 'needs_attention', pageSize: 100 });
    expect(refunds.map((r) => r.workflowId)).not.toContain(refundWorkflowId(request.orderId));
  });

  it('serves the Circle webhook for a saga started without the project’s client (temporal workflow start, another SDK)', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = { ...seedOrder(sandboxes), recon: null };
    const workflowId = refundWorkflowId(request.orderId);
    // No search attributes, no memo: what `temporal workflow start` sends. Circle is next read in an hour.
    const handle = await env.client.workflow.start('refundSaga', {
      taskQueue,
      workflowId,
      args: [
        { request, options: { pollInitialMs: 3_600_000, pollMaxMs: 3_600_000, settlementDeadlineMs: 86_400_000 } },
      ],
    });
    await waitForStatus(handle, (s) => s.status === 'awaiting_settlement');
    expect((await handle.describe()).typedSearchAttributes.get(CirclePaymentIdKey)).toBe(request.payment.paymentId);

    // Circle settles 300 ms after the cancel; the notification follows the settlement, as Circle's does.
    const circle = sandboxClients(sandboxes).circle;
    const deadline = Date.now() + 15_000;
    while ((await circle.getPayment(request.payment.paymentId)).payment.cancel?.status !== 'confirmed') {
      if (Date.now() > deadline) throw new Error('the Circle sandbox did not settle the cancel');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A new notification each time (its own clientId): the webhook takes a signed notification once, even one it
    // answered with a 404.
    const notify = () => {
      const body = JSON.stringify({
        clientId: randomUUID(),
        notificationType: 'payments',
        payment: { id: request.payment.paymentId },
      });
      const headers = { 'content-type': 'application/json', ...signCircleNotification(body, WEBHOOK_SECRET) };
      return api.inject({ method: 'POST', url: '/v1/webhooks/circle', payload: body, headers });
    };
    let answer = await notify();
    // Visibility is eventually consistent: the attribute the workflow wrote may take a moment to be searchable.
    while (answer.statusCode === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await notify();
    }
    expect(answer.statusCode).toBe(200);
    const result = await env.client.workflow.getHandle<typeof refundSaga>(workflowId).result();
    expect(result).toMatchObject({ outcome: 'completed', payment: { settlement: 'confirmed' } });
  });
});
