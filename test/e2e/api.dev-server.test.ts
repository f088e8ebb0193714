import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { signCircleNotification } from '../../src/providers/circle/webhook-signature';
import { operatorToken } from '../support/api-auth';
import { getRefundStatus, startRefund } from '../../src/client';
import type { refundSaga } from '../../src/workflows';
import { CarbonProviderKey, type SagaStatusView } from '../../src/domain';
import { sandboxClients } from '../support/sandboxes';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const TOKEN = 'test-token';
const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const stack = useSagaStack();
let api: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(() => {
  const { env, taskQueue } = stack();
  api = buildApi({
    client: env.client,
    authenticator: operatorToken(TOKEN, 'ops@example.com'),
    taskQueue,
    webhookSecret: WEBHOOK_SECRET,
    startOptions: { sagaOptions: FAST_POLLING },
  });
});
afterAll(() => api?.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = auth) =>
  api.inject({ method: 'POST', url, payload: payload as object, headers });
const get = (url: string, headers: Record<string, string> = auth) => api.inject({ method: 'GET', url, headers });
/** Posts `notification` to the Circle webhook, signed with `secret` as Circle's sandbox signs it. */
const notify = (notification: unknown, secret = WEBHOOK_SECRET) => {
  const body = JSON.stringify(notification);
  const headers = { 'content-type': 'application/json', ...signCircleNotification(body, secret) };
  return api.inject({ method: 'POST', url: '/v1/webhooks/circle', payload: body, headers });
};

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('HTTP API over the real stack', () => {
  it('starts a refund with 202, answers 200 with the same saga for a duplicate POST, and serves its status', async () => {
    const request = seedOrder(stack().sandboxes);
    const first = await post('/v1/refunds', request);
    expect(first.statusCode).toBe(202);
    const body = first.json<{ workflowId: string; runId: string; status: string }>();
    expect(body).toEqual({ workflowId: `refund-${request.orderId}`, runId: expect.any(String), status: 'running' });

    const again = await post('/v1/refunds', request);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ workflowId: body.workflowId, runId: body.runId });

    const done = await until(
      async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'completed',
    );
    expect(done).toMatchObject({ orderId: request.orderId, status: 'completed', result: { outcome: 'completed' } });
  });

  it('answers a saga status exactly as the status query holds it, a finished and a blocked one: the response schema drops nothing', async () => {
    const { env, sandboxes } = stack();
    const finished = seedOrder(sandboxes);
    const blocked = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
    for (const request of [finished, blocked]) expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    await until(
      async () => (await get(`/v1/refunds/${finished.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'completed',
    );
    await until(
      async () => (await get(`/v1/refunds/${blocked.orderId}`)).json<SagaStatusView>(),
      (s) => s.steps.carbon.lastError !== undefined,
    );
    for (const { orderId } of [finished, blocked]) {
      const served = await get(`/v1/refunds/${orderId}`);
      expect(served.statusCode).toBe(200);
      expect(served.json()).toEqual(await getRefundStatus(env.client, orderId));
    }
    expect((await get(`/v1/refunds/${finished.orderId}`)).json<SagaStatusView>().result?.carbon).toMatchObject({
      outcome: 'reversed',
      refunded: { value: expect.any(String), currency: expect.any(String) },
    });
  });

  it('refuses a second start whose request differs with 409 naming the fields while the saga runs, and changes nothing', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const { carbon, ...withoutCarbon } = seedOrder(sandboxes);
    // The first start waits an hour for Circle, so the saga is surely still running when the corrected one arrives.
    const first = await startRefund(env.client, withoutCarbon, {
      taskQueue,
      sagaOptions: { pollInitialMs: 3_600_000 },
    });
    const handle = env.client.workflow.getHandle(first.workflowId);
    try {
      const corrected = { ...withoutCarbon, carbon, amount: { value: '11.00', currency: 'USD' } };
      const conflict = await post('/v1/refunds', corrected);
      expect(conflict.statusCode).toBe(409);
      const { error } = conflict.json<{ error: { code: string; message: string; issues: Array<{ path: string }> } }>();
      expect(error).toMatchObject({ code: 'request_conflict', message: expect.stringContaining(first.workflowId) });
      expect(error.issues).toEqual(
        ['amount.value', 'carbon.orderId', 'carbon.provider'].map((path) => ({
          path,
          message: 'differs from the request that started this saga',
        })),
      );

      const retry = await post('/v1/refunds', withoutCarbon);
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toMatchObject({ workflowId: first.workflowId, runId: first.runId });

      const described = await handle.describe();
      expect(described.status.name).toBe('RUNNING');
      expect(described.runId).toBe(first.runId);
      expect(described.typedSearchAttributes.get(CarbonProviderKey)).toBe('none');
      const listed = await until(
        () => env.client.workflow.count(`WorkflowId = '${first.workflowId}'`),
        (c) => c.count > 0,
      );
      expect(listed.count).toBe(1);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('refuses a differing start with 409 after the saga completed, and answers 200 for the same request', async () => {
    const request = seedOrder(stack().sandboxes);
    expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    await until(
      async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'completed',
    );

    const conflict = await post('/v1/refunds', { ...request, amount: { value: '11.00', currency: 'USD' } });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({
      error: { code: 'request_conflict', issues: [{ path: 'amount.value' }] },
    });
    const retry = await post('/v1/refunds', request);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toMatchObject({ workflowId: `refund-${request.orderId}`, status: 'completed' });
    expect((await stack().env.client.workflow.count(`WorkflowId = 'refund-${request.orderId}'`)).count).toBe(1);
  });

  it('treats a saga started without a request digest (by an older client or the Temporal CLI) as the same request', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    const handle = await env.client.workflow.start('refundSaga', {
      taskQueue,
      workflowId: `refund-${request.orderId}`,
      args: [{ request, options: { pollInitialMs: 3_600_000 } }],
    });
    try {
      const again = await post('/v1/refunds', { ...request, amount: { value: '11.00', currency: 'USD' } });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
    } finally {
      await handle.terminate('test over');
    }
  });

  it('answers 400 with field paths for an invalid request, and starts nothing', async () => {
    const request = {
      ...seedOrder(stack().sandboxes),
      orderId: 'bad id',
      amount: { value: 'twelve', currency: 'USD' },
    };
    const response = await post('/v1/refunds', request);
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{ error: { code: string; issues: Array<{ path: string }> } }>();
    expect(error.code).toBe('invalid_request');
    expect(error.issues.map((i) => i.path)).toEqual(['orderId', 'amount.value']);
    const list = await stack().env.client.workflow.count(`WorkflowId = 'refund-bad id'`);
    expect(list.count).toBe(0);
  });

  it('answers 401 without the bearer token, 404 for an unknown order, 400 for a malformed order id', async () => {
    expect((await get('/v1/refunds/ord_x', {})).statusCode).toBe(401);
    expect((await get('/v1/refunds/ord_x', { authorization: 'Bearer wrong' })).json()).toEqual({
      error: { code: 'unauthorized', message: 'send Authorization: Bearer <token>' },
    });
    const missing = await get('/v1/refunds/ord_never_started');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await get('/v1/refunds/bad%20id')).statusCode).toBe(400);
  });

  it('lists the refunds that need attention, and an override through the API unblocks one', async () => {
    const request = seedOrder(stack().sandboxes, { stripeAgeSeconds: 25 * 3600 });
    expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    const listed = await until(
      async () =>
        (await get('/v1/refunds?status=needs_attention&pageSize=100')).json<{
          refunds: Array<{ orderId: string; step: string }>;
        }>(),
      (l) => l.refunds.some((r) => r.orderId === request.orderId),
    );
    expect(listed.refunds.find((r) => r.orderId === request.orderId)).toMatchObject({
      step: 'carbon',
      needsAttention: true,
    });

    const rejected = await post(`/v1/refunds/${request.orderId}/overrides`, {
      action: 'retryStep',
      step: 'impact',
      reason: 'try',
    });
    expect(rejected.statusCode).toBe(409);
    expect(rejected.json()).toMatchObject({
      error: { code: 'override_rejected', message: expect.stringContaining('only a blocked step') },
    });

    const invalid = await post(`/v1/refunds/${request.orderId}/overrides`, { action: 'skipStep', step: 'carbon' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path)).toEqual([
      'reason',
    ]);

    // The body names no operator: the saga records the caller's identity.
    const accepted = await post(`/v1/refunds/${request.orderId}/overrides`, {
      action: 'skipStep',
      step: 'carbon',
      reason: 'refunded in the Stripe dashboard',
    });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json<SagaStatusView>().steps.carbon.state).toBe('skipped');
    expect(accepted.json<SagaStatusView>().overrides.at(-1)).toMatchObject({
      action: 'skipStep',
      operator: 'ops@example.com',
    });
  });

  it('ends a settlement wait when the Circle webhook arrives, and refuses a wrong signature or an unknown payment', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = { ...seedOrder(sandboxes), recon: null };
    // The saga would next look at Circle in an hour; only the webhook can make it finish within the test.
    const { workflowId } = await startRefund(env.client, request, {
      taskQueue,
      sagaOptions: { pollInitialMs: 3_600_000 },
    });
    await until(
      async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'awaiting_settlement',
    );
    const notification = {
      notificationType: 'payments',
      payment: { id: request.payment.paymentId, status: 'confirmed' },
    };

    expect((await notify(notification, 'wrong-secret-wrong-secret')).statusCode).toBe(401);
    const unknown = { payment: { id: '00000000-0000-4000-8000-000000000000' } };
    expect((await notify(unknown)).statusCode).toBe(404);

    const circle = sandboxClients(sandboxes).circle;
    const settled = await until(
      async () => (await circle.getPayment(request.payment.paymentId)).payment.cancel?.status,
      (status) => status === 'confirmed',
    );
    expect(settled).toBe('confirmed');
    const accepted = await notify(notification);
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toEqual({ signalled: workflowId });
    const result = await env.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ outcome: 'completed', payment: { settlement: 'confirmed' } });
  });

  it('completes a saga from the Circle sandbox’s own settlement notification, posted to the listening API', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const url = await api.listen({ port: 0, host: '127.0.0.1' });
    sandboxes.circle.configure({ webhookUrl: `${url}/v1/webhooks/circle`, webhookSecret: WEBHOOK_SECRET });
    try {
      const request = { ...seedOrder(sandboxes), recon: null };
      const { workflowId } = await startRefund(env.client, request, {
        taskQueue,
        sagaOptions: { pollInitialMs: 3_600_000 },
      });
      const result = await env.client.workflow.getHandle<typeof refundSaga>(workflowId).result();
      expect(result).toMatchObject({ outcome: 'completed', payment: { settlement: 'confirmed' } });
      expect(Date.parse(result.completedAt) - Date.parse(result.startedAt)).toBeLessThan(60_000);
    } finally {
      sandboxes.circle.configure({ webhookUrl: undefined, webhookSecret: undefined });
    }
  });

  it('answers 400 for an unknown status filter and serves its OpenAPI document without a token', async () => {
    expect((await get('/v1/refunds?status=stuck')).statusCode).toBe(400);
    const doc = await get('/openapi.json', {});
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json<{ paths: object }>().paths)).toEqual([
      '/v1/refunds',
      '/v1/refunds/{orderId}',
      '/v1/refunds/{orderId}/overrides',
      '/v1/refunds/overrides:batch',
    ]);
  });

  it('refuses a body over the size limit with 413 in the error shape', async () => {
    const response = await post('/v1/refunds', { orderId: 'x', reason: 'r'.repeat(70 * 1024) });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: 'body_too_large' } });
  });
});

interface ListBody {
  refunds: Array<{
    orderId: string;
    status?: string;
    step?: string;
    executionStatus: string;
    needsAttention: boolean;
    error?: { type: string; message: string };
    deadline?: string;
  }>;
  nextPageToken?: string;
}

describe('operators stay in control through the API', () => {
  const override = { action: 'skipStep', step: 'carbon', operator: 'ops@example.com', reason: 'refunded by hand' };

  it('answers 409 saga_ended for an override to a finished saga, and 404 for an order that never had one', async () => {
    const request = seedOrder(stack().sandboxes);
    expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    await until(
      async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'completed',
    );
    expect((await get(`/v1/refunds/${request.orderId}`)).statusCode).toBe(200);

    const ended = await post(`/v1/refunds/${request.orderId}/overrides`, override);
    expect(ended.statusCode).toBe(409);
    expect(ended.json()).toEqual({ error: { code: 'saga_ended', message: 'the saga has ended (completed)' } });

    const missing = await post('/v1/refunds/ord_never_refunded/overrides', override);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('applies an extendDeadline sent twice with one Idempotency-Key once, and validates the key', async () => {
    const { env, sandboxes, taskQueue } = stack();
    // Circle settles this cancel in an hour, and is next read in an hour (an extension reads it at once): the payment
    // step waits, with its deadline, for the whole test.
    const request = { ...seedOrder(sandboxes, { settleDelayMs: 3_600_000 }), recon: null };
    const { workflowId } = await startRefund(env.client, request, {
      taskQueue,
      sagaOptions: { pollInitialMs: 3_600_000, settlementDeadlineMs: 600_000 },
    });
    try {
      const waiting = await until(
        async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
        (s) => s.steps.payment.state === 'waiting' && Boolean(s.steps.payment.deadline),
      );
      const before = Date.parse(waiting.steps.payment.deadline!);
      const extend = {
        action: 'extendDeadline',
        step: 'payment',
        duration: '1h',
        reason: 'Circle slow',
      };
      const url = `/v1/refunds/${request.orderId}/overrides`;
      const keyed = { ...auth, 'idempotency-key': 'ticket-4711:extend' };

      const first = await post(url, extend, keyed);
      expect(first.statusCode).toBe(200);
      const extended = Date.parse(first.json<SagaStatusView>().steps.payment.deadline!);
      expect(extended - before).toBeGreaterThanOrEqual(3_600_000);
      const retried = await post(url, extend, keyed);
      expect(retried.statusCode).toBe(200);
      expect(retried.json<SagaStatusView>().steps.payment.deadline).toBe(
        first.json<SagaStatusView>().steps.payment.deadline,
      );
      const now = (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>();
      expect(Date.parse(now.steps.payment.deadline!)).toBe(extended);
      expect(now.overrides.filter((o) => o.action === 'extendDeadline')).toHaveLength(1);

      const invalid = await post(url, extend, { ...auth, 'idempotency-key': 'not a key!' });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json()).toMatchObject({
        error: { code: 'invalid_request', issues: [{ path: 'Idempotency-Key' }] },
      });

      // Without a key each request is its own override, as before.
      expect((await post(url, extend)).statusCode).toBe(200);
      const twice = (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>();
      expect(Date.parse(twice.steps.payment.deadline!) - extended).toBeGreaterThanOrEqual(3_600_000);
    } finally {
      await env.client.workflow.getHandle(workflowId).terminate('test over');
    }
  });

  it('lists needs-attention rows with the blocked step’s error, filters by step and carbon provider, and pages', async () => {
    const request = seedOrder(stack().sandboxes, { stripeAgeSeconds: 25 * 3600 });
    expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    const filter = 'status=needs_attention&step=carbon&carbonProvider=stripe_climate&pageSize=100';
    const listed = await until(
      async () => (await get(`/v1/refunds?${filter}`)).json<ListBody>(),
      (l) => l.refunds.some((r) => r.orderId === request.orderId && r.error),
    );
    expect(listed.refunds.find((r) => r.orderId === request.orderId)).toMatchObject({
      status: 'needs_attention',
      step: 'carbon',
      executionStatus: 'Running',
      needsAttention: true,
      error: { type: 'WindowClosed', message: expect.stringContaining('24 h') },
    });
    const squake = (await get('/v1/refunds?carbonProvider=squake&pageSize=100')).json<ListBody>();
    expect(squake.refunds.some((r) => r.orderId === request.orderId)).toBe(false);

    const badFilters = await get('/v1/refunds?step=shipping&carbonProvider=paypal');
    expect(badFilters.statusCode).toBe(400);
    expect(badFilters.json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path)).toEqual([
      'step',
      'carbonProvider',
    ]);

    const first = (await get('/v1/refunds?pageSize=1')).json<ListBody>();
    expect(first.refunds).toHaveLength(1);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = await get(`/v1/refunds?pageSize=1&pageToken=${first.nextPageToken}`);
    expect(second.statusCode).toBe(200);
    expect(second.json<ListBody>().refunds[0]?.orderId).not.toBe(first.refunds[0]!.orderId);
  });

  it('answers a malformed page token with a fast 400 naming pageToken', async () => {
    for (const token of ['garbage!!', 'abc', Buffer.from('{"x":1}').toString('base64url')]) {
      const started = Date.now();
      const response = await get(`/v1/refunds?pageToken=${encodeURIComponent(token)}`);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_request', issues: [{ path: 'pageToken' }] } });
    }
  });

  it('shows a terminated saga as terminated and keeps it out of the needs-attention list', async () => {
    const request = seedOrder(stack().sandboxes, { stripeAgeSeconds: 25 * 3600 });
    expect((await post('/v1/refunds', request)).statusCode).toBe(202);
    await until(
      async () => (await get(`/v1/refunds/${request.orderId}`)).json<SagaStatusView>(),
      (s) => s.status === 'needs_attention',
    );
    await stack().env.client.workflow.getHandle(`refund-${request.orderId}`).terminate('operator gave up');
    const row = (l: ListBody) => l.refunds.find((r) => r.orderId === request.orderId);
    const all = await until(
      async () => (await get('/v1/refunds?pageSize=100')).json<ListBody>(),
      (l) => row(l)?.executionStatus === 'Terminated',
    );
    expect(row(all)).toMatchObject({ status: 'terminated', executionStatus: 'Terminated', needsAttention: false });
    expect(row(all)?.error).toBeUndefined();
    const attention = (await get('/v1/refunds?status=needs_attention&pageSize=100')).json<ListBody>();
    expect(row(attention)).toBeUndefined();
  });
});
