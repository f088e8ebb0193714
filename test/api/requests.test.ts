import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { signCircleNotification } from '../../src/providers/circle/webhook-signature';
import { operatorToken } from '../support/api-auth';

const TOKEN = 'test-token';
const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const auth = { authorization: `Bearer ${TOKEN}` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Every request below is answered before the client is called: refusals, validation, the document.
const client = {} as Client;
const logLines: Array<Record<string, unknown>> = [];
let api: FastifyInstance;
beforeAll(() => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  api = buildApi({
    client,
    authenticator: operatorToken(TOKEN),
    webhookSecret: WEBHOOK_SECRET,
    logger: pino({ level: 'info' }, sink),
  });
});
afterAll(() => api.close());

/** A refund request that passes the schema. */
const validRequest = {
  orderId: 'ord_1',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '00000000-0000-4000-8000-000000000000' },
};

describe('request ids', () => {
  it('returns a new request-id on a success, an error and an unknown route', async () => {
    const answers = await Promise.all([
      api.inject({ method: 'GET', url: '/openapi.json' }),
      api.inject({ method: 'GET', url: '/v1/refunds/ord_1' }),
      api.inject({ method: 'GET', url: '/no/such/route' }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 404]);
    const ids = answers.map((a) => a.headers['request-id']);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
  });

  it('echoes a sane incoming request-id, and replaces one too long or with unsafe characters', async () => {
    const sent = async (id: string) =>
      (await api.inject({ method: 'GET', url: '/healthz', headers: { 'request-id': id } })).headers['request-id'];
    expect(await sent('order-service:4711.a_b')).toBe('order-service:4711.a_b');
    expect(await sent('x'.repeat(129))).toMatch(UUID);
    expect(await sent('a b')).toMatch(UUID);
    expect(await sent('id"\\<script>')).toMatch(UUID);
  });

  it('logs each request with its id', async () => {
    await api.inject({ method: 'GET', url: '/healthz', headers: { 'request-id': 'trace-42' } });
    expect(logLines).toContainEqual(
      expect.objectContaining({ reqId: 'trace-42', msg: 'request completed', res: { statusCode: 200 } }),
    );
    expect(logLines).toContainEqual(expect.objectContaining({ reqId: 'trace-42', msg: 'incoming request' }));
  });
});

describe('refusals keep the error envelope', () => {
  it('answers a body that fails the schema with 400 invalid_request naming each field, and its request-id', async () => {
    const response = await api.inject({
      method: 'POST',
      url: '/v1/refunds',
      headers: { ...auth, 'request-id': 'bad-body-1' },
      payload: { ...validRequest, orderId: 'bad id', amount: { value: 'twelve', currency: 'USD' } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['request-id']).toBe('bad-body-1');
    expect(response.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: expect.stringMatching(/^invalid refund request: orderId must be 1-64 characters/),
        issues: [
          { path: 'orderId', message: expect.any(String) },
          { path: 'amount.value', message: 'must be a decimal string such as "12.60"' },
        ],
      },
    });
  });

  it('names a bad path parameter, header or query parameter as before', async () => {
    const badId = await api.inject({ method: 'GET', url: '/v1/refunds/bad%20id', headers: auth });
    expect(badId.json()).toMatchObject({
      error: { code: 'invalid_request', message: 'invalid orderId', issues: [{ path: 'orderId' }] },
    });
    const badKey = await api.inject({
      method: 'POST',
      url: '/v1/refunds/ord_1/overrides',
      headers: { ...auth, 'idempotency-key': 'not a key!' },
      payload: { action: 'abort', operator: 'ops', reason: 'test' },
    });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json()).toMatchObject({
      error: { code: 'invalid_request', message: 'invalid Idempotency-Key', issues: [{ path: 'Idempotency-Key' }] },
    });
    const badQuery = await api.inject({ method: 'GET', url: '/v1/refunds?pageSize=0&colour=red', headers: auth });
    expect(badQuery.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: 'invalid query',
        issues: [
          { path: 'pageSize', message: 'must be 1-100' },
          { path: '(root)', message: 'Unrecognized key: "colour"' },
        ],
      },
    });
    const badAction = await api.inject({
      method: 'POST',
      url: '/v1/refunds/ord_1/overrides',
      headers: auth,
      payload: { action: 'pause', operator: 'ops', reason: 'test' },
    });
    expect(badAction.json()).toMatchObject({
      error: {
        message: 'invalid override',
        issues: [{ path: 'action', message: expect.stringMatching(/^must be one of/) }],
      },
    });
  });

  it('answers a URL Fastify cannot route in the envelope too, with a request-id', async () => {
    const badUrl = await api.inject({ method: 'GET', url: '/v1/refunds/%E0%A4%A', headers: auth });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.headers['request-id']).toMatch(UUID);
    expect(badUrl.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringContaining('url') } });
    const longParam = await api.inject({ method: 'GET', url: `/v1/refunds/${'a'.repeat(101)}`, headers: auth });
    expect(longParam.statusCode).toBe(414);
    expect(longParam.headers['request-id']).toMatch(UUID);
    expect(longParam.json()).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('answers malformed JSON with 400 bad_request', async () => {
    const response = await api.inject({
      method: 'POST',
      url: '/v1/refunds',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"orderId":',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'bad_request' } });
  });
});

describe('who may call what', () => {
  it('asks for the bearer token on every /v1 route, unknown ones included, and on no public route', async () => {
    for (const url of ['/v1/refunds', '/v1/refunds/ord_1', '/v1/no-such-route']) {
      const response = await api.inject({ method: 'GET', url, headers: { authorization: 'Bearer wrong' } });
      expect(response.statusCode, url).toBe(401);
      expect(response.json()).toEqual({
        error: { code: 'unauthorized', message: 'send Authorization: Bearer <token>' },
      });
    }
    expect((await api.inject({ method: 'GET', url: '/v1/no-such-route', headers: auth })).statusCode).toBe(404);
    // Every operation of the document, POSTs included, with a body that would pass: refused before anything else.
    const doc = (await api.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), url: path.replace('{orderId}', 'ord_1') })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(5);
    for (const { method, url } of operations) {
      const response = await api.inject({
        method: method as 'GET' | 'POST',
        url,
        ...(method === 'POST' && { payload: validRequest }),
      });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
    }
    for (const url of ['/openapi.json', '/docs', '/healthz']) {
      expect((await api.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('lets the Circle webhook through on its own signature, not the bearer token', async () => {
    const notification = JSON.stringify({ notificationType: 'payments', payment: { id: 'not-a-uuid' } });
    const post = (headers: Record<string, string>) =>
      api.inject({
        method: 'POST',
        url: '/v1/webhooks/circle',
        payload: notification,
        headers: { 'content-type': 'application/json', ...headers },
      });
    expect((await post(auth)).json()).toEqual({
      error: { code: 'unauthorized', message: expect.stringMatching(/^missing X-Webhook-Signature/) },
    });
    const invalid = await post(signCircleNotification(notification, WEBHOOK_SECRET));
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({
      error: {
        code: 'invalid_request',
        message: 'expected a Circle notification with payment.id or cancel.originalPayment.id',
        issues: [{ path: 'payment.id' }],
      },
    });
  });

  it('answers 503 on the webhook when no secret is configured', async () => {
    const unconfigured = buildApi({ client, authenticator: operatorToken(TOKEN) });
    try {
      const response = await unconfigured.inject({ method: 'POST', url: '/v1/webhooks/circle', payload: {} });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: { code: 'not_configured' } });
    } finally {
      await unconfigured.close();
    }
  });
});
