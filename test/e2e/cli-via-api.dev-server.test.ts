import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { runCli } from '../../src/cli/main';
import { startRefund } from '../../src/client';
import type { SagaStatusView } from '../../src/domain';
import { tokens } from '../support/api-auth';
import { waitForStatus } from '../support/saga';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const stack = useSagaStack();
let api: FastifyInstance;
let url: string;

beforeAll(async () => {
  const { env, taskQueue } = stack();
  api = buildApi({
    client: env.client,
    taskQueue,
    authenticator: tokens({
      'alice-token-0123456789': { identity: 'alice@example.com', role: 'operator' },
      'shop-token-0123456789': { identity: 'shop', role: 'order-service' },
    }),
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterAll(() => api?.close());
afterEach(() => {
  delete process.env.REFUND_SAGA_API_URL;
  delete process.env.REFUND_SAGA_TOKEN;
});

/** The CLI as an operator with `token` runs it; it must not open a Temporal connection of its own. */
async function cliAs(token: string, ...argv: string[]) {
  process.env.REFUND_SAGA_API_URL = url;
  process.env.REFUND_SAGA_TOKEN = token;
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, () =>
    Promise.reject(new Error('the CLI connected to Temporal itself')),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function stuckSaga() {
  const { env, sandboxes, taskQueue } = stack();
  const request = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
  const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
  await waitForStatus(env.client.workflow.getHandle(started.workflowId), (s) => s.steps.carbon.state === 'blocked');
  return request.orderId;
}

describe('the CLI sends overrides through the API with the operator’s own credential', () => {
  it('records the credential’s identity as the operator, with no --operator given', async () => {
    const orderId = await stuckSaga();
    const run = await cliAs(
      'alice-token-0123456789',
      'override',
      orderId,
      'skipStep',
      '--step',
      'carbon',
      '--reason',
      'refunded by hand',
      '-o',
      'json',
    );
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const view = JSON.parse(run.out) as SagaStatusView;
    expect(view.steps.carbon.state).toBe('skipped');
    expect(view.overrides.at(-1)).toMatchObject({ action: 'skipStep', operator: 'alice@example.com' });
  });

  it('refuses an operator who names someone else, and an order-service credential, exiting 1 with the API’s reason', async () => {
    const orderId = await stuckSaga();
    const asBob = await cliAs(
      'alice-token-0123456789',
      'override',
      orderId,
      'skipStep',
      '--step',
      'carbon',
      '--operator',
      'bob@example.com',
      '--reason',
      'x',
    );
    expect(asBob).toMatchObject({ code: 1, out: '' });
    expect(asBob.err).toMatch(/refused \(403 operator_mismatch\).*alice@example\.com/);
    const asShop = await cliAs(
      'shop-token-0123456789',
      'override',
      orderId,
      'skipStep',
      '--step',
      'carbon',
      '--reason',
      'x',
    );
    expect(asShop.code).toBe(1);
    expect(asShop.err).toMatch(/refused \(403 forbidden\): the order-service role may not send overrides/);
    const unknown = await cliAs('not-a-token', 'override', orderId, 'abort', '--reason', 'x');
    expect(unknown.err).toMatch(/401 unauthorized.*check REFUND_SAGA_TOKEN/);
    const status = await stack().env.client.workflow.getHandle(`refund-${orderId}`).query<SagaStatusView>('status');
    expect(status.overrides).toEqual([]);
  });

  it('sends a bulk override through the API, a line per saga', async () => {
    const [a, b] = [await stuckSaga(), await stuckSaga()];
    const run = await cliAs(
      'alice-token-0123456789',
      'override',
      '--orders',
      `${a},${b}`,
      'skipStep',
      '--step',
      'carbon',
      '--reason',
      'outage over',
      '--apply',
    );
    expect(run.code).toBe(0);
    expect(run.out).toContain(`[1/2] ${a} accepted`);
    expect(run.out).toContain(`[2/2] ${b} accepted`);
    expect(run.out).toContain('skipStep: 2 accepted, 0 refused, 0 failed (of 2)');
  });
});
