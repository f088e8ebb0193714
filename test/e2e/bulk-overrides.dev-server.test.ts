import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { operatorToken } from '../support/api-auth';
import { startRefund } from '../../src/client';
import type { refundSaga } from '../../src/workflows';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const TOKEN = 'test-token';
const stack = useSagaStack();
let api: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(() => {
  const { env, taskQueue } = stack();
  api = buildApi({
    client: env.client,
    authenticator: operatorToken(TOKEN, 'ops@example.com'),
    taskQueue,
    startOptions: { sagaOptions: FAST_POLLING },
  });
});
afterAll(() => api?.close());

const batch = (payload: unknown) =>
  api.inject({ method: 'POST', url: '/v1/refunds/overrides:batch', payload: payload as object, headers: auth });

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface BatchBody {
  dryRun: boolean;
  orderIds: string[];
  capped: boolean;
  results?: Array<{ orderId: string; outcome: string; reason?: string }>;
  counts?: { accepted: number; refused: number; failed: number };
}

const skipCarbon = { action: 'skipStep', step: 'carbon', operator: 'ops@example.com', reason: 'Stripe outage' };
const retryCarbon = { action: 'retryStep', step: 'carbon', operator: 'ops@example.com', reason: 'Stripe is back' };

describe('bulk overrides through the API', () => {
  it('after a Stripe outage blocks 50 sagas, lists them in a dry run, then retries them in one batch, and they complete', async () => {
    const { env, sandboxes, taskQueue } = stack();
    // Stripe answers every cancel with a 500 until the outage ends; each saga escalates after 3 s of retries.
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', errorRate: 1, status: 500 });
    const requests = Array.from({ length: 50 }, () => seedOrder(sandboxes));
    const sagaOptions = { ...FAST_POLLING, outageEscalationMs: 3000 };
    await Promise.all(requests.map((r) => startRefund(env.client, r, { taskQueue, sagaOptions })));
    // Only this file's sagas: the dev server is shared with the other test files.
    const where = `TaskQueue = '${taskQueue}' AND RefundStatus = 'needs_attention'`;
    const blocked = await until(
      () => env.client.workflow.count(where),
      (c) => c.count === 50,
      60_000,
    );
    expect(blocked.count).toBe(50);
    await fetch(`${sandboxes.urls.stripeClimate}/_sandbox/faults`, { method: 'DELETE' });
    const orderIds = requests.map((r) => r.orderId).sort();

    const dry = await batch({ where, override: retryCarbon });
    expect(dry.statusCode).toBe(200);
    expect(dry.json<BatchBody>()).toMatchObject({ dryRun: true, capped: false });
    expect([...dry.json<BatchBody>().orderIds].sort()).toEqual(orderIds);
    expect(dry.json<BatchBody>().results).toBeUndefined();
    expect((await env.client.workflow.count(where)).count).toBe(50);

    const started = Date.now();
    const applied = await batch({ where, override: retryCarbon, dryRun: false, concurrency: 16 });
    const tookMs = Date.now() - started;
    expect(applied.statusCode).toBe(200);
    const report = applied.json<BatchBody>();
    expect(report.counts).toEqual({ accepted: 50, refused: 0, failed: 0 });
    expect(report.results?.map((r) => r.orderId).sort()).toEqual(orderIds);

    const results = await Promise.all(
      requests.map((r) => env.client.workflow.getHandle<typeof refundSaga>(`refund-${r.orderId}`).result()),
    );
    expect(results.every((r) => r.outcome === 'completed' && r.carbon.outcome === 'reversed')).toBe(true);
    // Each order was cancelled once, by the retry's new key, whatever the outage answered before.
    for (const r of requests) {
      expect(sandboxes.stripeClimate.ledgerEntries(r.carbon.orderId).map((e) => e.effect)).toEqual(['cancellation']);
    }
    console.log(
      `bulk retryStep of 50 sagas: ${tookMs} ms for the batch, ${Date.now() - started} ms until all completed`,
    );
  });

  it('skips the carbon step of sagas blocked on a closed window in one batch', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const requests = Array.from({ length: 5 }, () => seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 }));
    await Promise.all(requests.map((r) => startRefund(env.client, r, { taskQueue, sagaOptions: FAST_POLLING })));
    const orderIds = requests.map((r) => r.orderId);
    await until(
      () =>
        env.client.workflow.count(
          `TaskQueue = '${taskQueue}' AND RefundStatus = 'needs_attention' AND CarbonProvider = 'stripe_climate' AND RefundStep = 'carbon'`,
        ),
      (c) => c.count >= 5,
    );
    const applied = await batch({ orderIds, override: skipCarbon, dryRun: false });
    expect(applied.json<BatchBody>().counts).toEqual({ accepted: 5, refused: 0, failed: 0 });
    const results = await Promise.all(
      requests.map((r) => env.client.workflow.getHandle<typeof refundSaga>(`refund-${r.orderId}`).result()),
    );
    expect(results.every((r) => r.outcome === 'completed' && r.carbon.outcome === 'skipped')).toBe(true);
  });

  it('refuses a bad visibility query with 400 naming where, and bad bodies naming each field', async () => {
    const badQuery = await batch({ where: "Colour = 'red'", override: skipCarbon });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json()).toMatchObject({
      error: { code: 'invalid_request', issues: [{ path: 'where', message: expect.stringContaining('Colour') }] },
    });
    const escaping = await batch({
      where: "RefundStatus = 'x') OR (WorkflowType != 'refundSaga'",
      override: skipCarbon,
    });
    expect(escaping.statusCode).toBe(400);
    expect(escaping.json()).toMatchObject({ error: { issues: [{ path: 'where' }] } });

    const paths = async (payload: unknown) =>
      (await batch(payload)).json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path);
    expect(await paths({ where: 'x', orderIds: ['a'], override: skipCarbon })).toEqual(['(root)']);
    expect(await paths({ orderIds: [], override: skipCarbon })).toEqual(['orderIds']);
    expect(await paths({ orderIds: ['ok_1', 'bad id'], override: skipCarbon, concurrency: 33 })).toEqual([
      'orderIds.1',
      'concurrency',
    ]);
    expect(await paths({ orderIds: ['ok_1'], override: { action: 'skipStep', step: 'carbon' } })).toEqual([
      'override.reason',
    ]);
  });

  it('reports each saga of an orderIds batch as accepted, refused or failed', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const stuck = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
    const done = seedOrder(sandboxes);
    await startRefund(env.client, stuck, { taskQueue, sagaOptions: FAST_POLLING });
    await startRefund(env.client, done, { taskQueue, sagaOptions: FAST_POLLING });
    await env.client.workflow.getHandle(`refund-${done.orderId}`).result();
    await until(
      () => env.client.workflow.getHandle(`refund-${stuck.orderId}`).query<{ status: string }>('status'),
      (s) => s.status === 'needs_attention',
    );

    const orderIds = [stuck.orderId, done.orderId, 'ord_never_refunded'];
    const dry = await batch({ orderIds, override: skipCarbon });
    expect(dry.json()).toMatchObject({ dryRun: true, orderIds });
    const response = await batch({ orderIds, override: skipCarbon, dryRun: false });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      dryRun: false,
      orderIds,
      capped: false,
      results: [
        { orderId: stuck.orderId, outcome: 'accepted' },
        { orderId: done.orderId, outcome: 'refused', reason: 'the saga has ended (completed)' },
        { orderId: 'ord_never_refunded', outcome: 'failed', reason: 'no refund for order ord_never_refunded' },
      ],
      counts: { accepted: 1, refused: 1, failed: 1 },
    });
  });
});
