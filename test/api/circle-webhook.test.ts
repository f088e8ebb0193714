/**
 * `POST /v1/webhooks/circle` takes a notification only when it is signed: `X-Webhook-Timestamp` within the window and
 * `X-Webhook-Signature: v1=<HMAC-SHA256 of "<timestamp>.<body>">`, over the body's bytes as sent, once. A refused one
 * never reaches Temporal; an accepted one looks its saga up and signals it.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { circleWebhook, type CircleWebhookOptions } from '../../src/api/circle-webhook';
import { apiErrorHandler } from '../../src/api/errors';
import { readJsonBodiesOnly } from '../../src/api/json-body';
import { buildApi } from '../../src/api/server';
import { CircleClient } from '../../src/providers/circle/client';
import { CircleSandbox } from '../../src/providers/circle/sandbox';
import { signCircleNotification } from '../../src/providers/circle/webhook-signature';
import { operatorToken } from '../support/api-auth';

const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const OTHER_SECRET = 'another-secret-for-tests';

/** What the webhook asked of Temporal: the visibility queries it ran and the sagas it signalled. */
const temporal = { lookups: [] as string[], signalled: [] as string[] };
/** A Temporal client that finds a running saga `refund-<paymentId>` for every payment. */
const client = {
  options: { namespace: 'default' },
  workflowService: {
    listWorkflowExecutions: ({ query }: { query: string }) => {
      temporal.lookups.push(query);
      const paymentId = /CirclePaymentId = '([^']+)'/.exec(query)?.[1];
      return Promise.resolve({ executions: [{ execution: { workflowId: `refund-${paymentId}` } }] });
    },
  },
  workflow: {
    getHandle: (workflowId: string) => ({
      signal: () => {
        temporal.signalled.push(workflowId);
        return Promise.resolve();
      },
    }),
  },
} as unknown as Client;

let api: FastifyInstance;
beforeAll(() => {
  api = buildApi({ client, authenticator: operatorToken('test-token'), webhookSecret: WEBHOOK_SECRET });
});
afterAll(() => api.close());
beforeEach(() => {
  temporal.lookups = [];
  temporal.signalled = [];
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A notification about `paymentId`, as Circle's `payments` notifications look; each call's bytes are new. */
function notification(paymentId: string = randomUUID()): string {
  return JSON.stringify({
    clientId: randomUUID(),
    notificationType: 'payments',
    version: 1,
    payment: { id: paymentId, status: 'confirmed', cancel: { id: randomUUID(), status: 'confirmed' } },
  });
}

/** Posts `body` as sent, with `headers`, to `app`'s webhook. */
const deliver = (body: string, headers: Record<string, string>, app: FastifyInstance = api) =>
  app.inject({
    method: 'POST',
    url: '/v1/webhooks/circle',
    payload: body,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** Asserts a 401 whose message matches `message`, and that Temporal was not asked anything. */
function expectRefused(answer: Awaited<ReturnType<typeof deliver>>, message: RegExp): void {
  expect({ status: answer.statusCode, body: answer.json<unknown>() }).toEqual({
    status: 401,
    body: { error: { code: 'unauthorized', message: expect.stringMatching(message) } },
  });
  expect(temporal).toEqual({ lookups: [], signalled: [] });
}

describe('Circle webhook signatures', () => {
  it('accepts a notification signed with the shared secret and signals the running saga of its payment', async () => {
    const paymentId = randomUUID();
    const body = notification(paymentId);
    const answer = await deliver(body, signCircleNotification(body, WEBHOOK_SECRET));
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json()).toEqual({ signalled: `refund-${paymentId}` });
    expect(temporal.lookups).toEqual([expect.stringContaining(`CirclePaymentId = '${paymentId}'`)]);
    expect(temporal.signalled).toEqual([`refund-${paymentId}`]);
  });

  it('refuses an unsigned notification with 401, naming X-Webhook-Signature', async () => {
    expectRefused(await deliver(notification(), {}), /^missing X-Webhook-Signature: the notification must be signed/);
  });

  it('refuses the old X-Webhook-Secret header alone, saying the notification must be signed', async () => {
    expectRefused(
      await deliver(notification(), { 'x-webhook-secret': WEBHOOK_SECRET }),
      /^X-Webhook-Secret is no longer accepted: the notification must be signed/,
    );
  });

  it('refuses a missing or malformed X-Webhook-Timestamp, naming it', async () => {
    const body = notification();
    const { 'x-webhook-signature': signature } = signCircleNotification(body, WEBHOOK_SECRET);
    expectRefused(await deliver(body, { 'x-webhook-signature': signature }), /^missing X-Webhook-Timestamp/);
    for (const timestamp of ['', 'yesterday', `${nowSeconds()}.5`, `-${nowSeconds()}`, `${Date.now()}000`]) {
      expectRefused(
        await deliver(body, { 'x-webhook-signature': signature, 'x-webhook-timestamp': timestamp }),
        /^X-Webhook-Timestamp must be unix seconds/,
      );
    }
  });

  it('refuses a malformed X-Webhook-Signature, naming it', async () => {
    const body = notification();
    const signed = signCircleNotification(body, WEBHOOK_SECRET);
    const hex = signed['x-webhook-signature'].slice('v1='.length);
    for (const signature of ['', hex, `v0=${hex}`, `v1=${hex.slice(2)}`, `v1=${hex}zz`, `v1=${hex},`, 'v1=']) {
      expectRefused(
        await deliver(body, { ...signed, 'x-webhook-signature': signature }),
        /^X-Webhook-Signature must be v1=<hex HMAC-SHA256>/,
      );
    }
  });

  it('refuses a notification signed with another secret', async () => {
    const body = notification();
    expectRefused(
      await deliver(body, signCircleNotification(body, OTHER_SECRET)),
      /^X-Webhook-Signature does not match/,
    );
  });

  it('refuses a body changed after signing, even by spacing alone', async () => {
    const body = notification();
    const headers = signCircleNotification(body, WEBHOOK_SECRET);
    const otherPayment = body.replace(/"payment":\{"id":"[^"]+"/, `"payment":{"id":"${randomUUID()}"`);
    expect(otherPayment).not.toBe(body);
    expectRefused(await deliver(otherPayment, headers), /^X-Webhook-Signature does not match/);
    expectRefused(await deliver(JSON.stringify(JSON.parse(body), null, 1), headers), /does not match/);
    expectRefused(await deliver(`${body}\n`, headers), /does not match/);
  });

  it('refuses a signature over another timestamp than the one sent', async () => {
    const body = notification();
    const headers = signCircleNotification(body, WEBHOOK_SECRET, nowSeconds() - 10);
    expectRefused(
      await deliver(body, { ...headers, 'x-webhook-timestamp': String(nowSeconds()) }),
      /^X-Webhook-Signature does not match/,
    );
  });

  it('refuses timestamps more than 5 minutes old or ahead, and accepts ones inside the window', async () => {
    for (const offset of [-330, 330, -86_400]) {
      const body = notification();
      expectRefused(
        await deliver(body, signCircleNotification(body, WEBHOOK_SECRET, nowSeconds() + offset)),
        /^X-Webhook-Timestamp is more than 300 s from the server's clock/,
      );
    }
    for (const offset of [-270, 270]) {
      const body = notification();
      const answer = await deliver(body, signCircleNotification(body, WEBHOOK_SECRET, nowSeconds() + offset));
      expect(answer.statusCode, `${offset} s: ${answer.body}`).toBe(200);
    }
  });

  it('refuses a replay of an accepted notification within the window, however its signatures are listed', async () => {
    const body = notification();
    const headers = signCircleNotification(body, WEBHOOK_SECRET);
    expect((await deliver(body, headers)).statusCode).toBe(200);
    temporal.lookups = [];
    temporal.signalled = [];
    expectRefused(await deliver(body, headers), /^X-Webhook-Signature was already accepted/);
    const decoy = signCircleNotification(body, OTHER_SECRET, Number(headers['x-webhook-timestamp']));
    expectRefused(
      await deliver(body, {
        ...headers,
        'x-webhook-signature': `${decoy['x-webhook-signature']}, ${headers['x-webhook-signature'].toUpperCase().replace('V1=', 'v1=')}`,
      }),
      /^X-Webhook-Signature was already accepted/,
    );
  });

  it('accepts several signatures when one is valid, so the sender can rotate its secret', async () => {
    const body = notification();
    const headers = signCircleNotification(body, [OTHER_SECRET, WEBHOOK_SECRET]);
    expect(headers['x-webhook-signature']).toMatch(/^v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    const answer = await deliver(body, headers);
    expect(answer.statusCode, answer.body).toBe(200);
    expect(temporal.signalled).toHaveLength(1);
  });

  it('checks a signed body against the notification schema only once the signature holds', async () => {
    const body = JSON.stringify({ notificationType: 'payments', payment: { id: 'not-a-uuid' } });
    expect((await deliver(body, signCircleNotification(body, OTHER_SECRET))).statusCode).toBe(401);
    const answer = await deliver(body, signCircleNotification(body, WEBHOOK_SECRET));
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ error: { code: 'invalid_request', issues: [{ path: 'payment.id' }] } });
  });
});

/** The webhook alone, with the API's body parser and error shape, to try the options `buildApi` leaves at defaults. */
function webhookOnly(options: Omit<CircleWebhookOptions, 'client'>): FastifyInstance {
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(apiErrorHandler);
  readJsonBodiesOnly(app);
  app.register(circleWebhook, { prefix: '/v1', client, ...options });
  // A route that does not ask for its raw body, beside the webhook, which does.
  app.post('/echo', (request) => ({ rawBody: request.rawBody === undefined ? null : request.rawBody.length }));
  return app;
}

describe('Circle webhook options', () => {
  it('accepts notifications signed with any of several configured secrets, so the API can rotate its own', async () => {
    const app = webhookOnly({ secret: [WEBHOOK_SECRET, OTHER_SECRET] });
    try {
      for (const secret of [WEBHOOK_SECRET, OTHER_SECRET]) {
        const body = notification();
        expect((await deliver(body, signCircleNotification(body, secret), app)).statusCode).toBe(200);
      }
      expect(temporal.signalled).toHaveLength(2);
      temporal.lookups = [];
      temporal.signalled = [];
      const body = notification();
      expectRefused(await deliver(body, signCircleNotification(body, 'a-third-secret-nobody-has'), app), /match/);
    } finally {
      await app.close();
    }
  });

  it('refuses timestamps outside a configured window', async () => {
    const app = webhookOnly({ secret: WEBHOOK_SECRET, toleranceSeconds: 60 });
    try {
      const stale = notification();
      expectRefused(
        await deliver(stale, signCircleNotification(stale, WEBHOOK_SECRET, nowSeconds() - 120), app),
        /^X-Webhook-Timestamp is more than 60 s from the server's clock/,
      );
      const fresh = notification();
      expect((await deliver(fresh, signCircleNotification(fresh, WEBHOOK_SECRET), app)).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('keeps the raw body for the webhook only, not for routes that do not ask for it', async () => {
    const app = webhookOnly({ secret: WEBHOOK_SECRET });
    try {
      const answer = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
      expect(answer.json()).toEqual({ rawBody: null });
    } finally {
      await app.close();
    }
  });
});

describe('the Circle sandbox’s notifications', () => {
  it('are signed so that the API accepts them', async () => {
    const sandbox = new CircleSandbox();
    const listening = buildApi({ client, authenticator: operatorToken('test-token'), webhookSecret: WEBHOOK_SECRET });
    try {
      const sandboxUrl = await sandbox.listen(0, '127.0.0.1');
      await listening.listen({ port: 0, host: '127.0.0.1' });
      const apiUrl = `http://127.0.0.1:${(listening.server.address() as AddressInfo).port}`;
      sandbox.configure({
        settleDelayMs: 0,
        webhookUrl: `${apiUrl}/v1/webhooks/circle`,
        webhookSecret: WEBHOOK_SECRET,
      });
      const { payments } = sandbox.addFixtures({ payments: [{}] }) as { payments: Array<{ id: string }> };
      const paymentId = payments[0]!.id;
      const circle = new CircleClient({ apiKey: sandbox.apiKey, baseUrl: sandboxUrl, timeoutMs: 2000 });
      await circle.cancelPayment(paymentId, {}, { idempotencyKey: randomUUID() });

      const deadline = Date.now() + 5000;
      while (!temporal.signalled.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(temporal.signalled).toEqual([`refund-${paymentId}`]);
    } finally {
      await listening.close();
      await sandbox.close();
    }
  });
});
