/**
 * The API on a real listening socket, for requests `inject()` cannot make: bytes Node's parser refuses, bodies larger
 * than the limit, clients that read only once they have sent everything. Its Temporal client fails the test when touched,
 * so "nothing was started" is asserted for every request a test file sends.
 */
import http from 'node:http';
import net from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { buildApi } from '../../src/api/server';
import { operatorToken } from '../support/api-auth';

export const TOKEN = 'test-token';
export const WEBHOOK_SECRET = 'webhook-secret-for-tests';
export const auth = { authorization: `Bearer ${TOKEN}` };
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A refund request that passes the schema: sent as is, it would start a saga. */
export const validRequest = {
  orderId: 'ord_1',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '00000000-0000-4000-8000-000000000000' },
};

/** An answer as the caller read it off the wire. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Runs the API for the test file on 127.0.0.1 and fails each test after which the Temporal client was touched. */
export function useLiveApi() {
  const touched: string[] = [];
  // Any property read is a call on its way: record it, and throw so the request cannot go on as if it had worked.
  const client = new Proxy({} as Client, {
    get(_target, property) {
      touched.push(String(property));
      throw new Error(`the API used the Temporal client (${String(property)})`);
    },
  });
  let api: FastifyInstance;
  let port = 0;
  beforeAll(async () => {
    api = buildApi({ client, authenticator: operatorToken(TOKEN), webhookSecret: WEBHOOK_SECRET });
    await api.listen({ port: 0, host: '127.0.0.1' });
    port = (api.server.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    const used = touched.splice(0);
    expect(used, 'the Temporal client was used: a workflow could have been started or signalled').toEqual([]);
  });
  afterAll(() => api.close());
  return { port: () => port };
}

/** Options of {@link send}. */
export interface SendOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  /** @default a fresh connection per request */
  agent?: http.Agent;
}

/** One request with `node:http`, which reads the answer while it still sends. */
export function send(port: number, path: string, options: SendOptions = {}): Promise<Answer> {
  const { method = options.body === undefined ? 'GET' : 'POST', headers = {}, body, agent } = options;
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** JSON `body` with the bearer token, as the order service sends it. */
export const postJson = (port: number, path: string, body: unknown, headers: http.OutgoingHttpHeaders = {}) =>
  send(port, path, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

/**
 * Writes `bytes` on a bare socket and only then reads, as clients that send the whole request before they look at the
 * answer do; resolves with everything the server sent before it closed, or fails with the socket's error.
 */
export function sendThenRead(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.write(bytes, (err) => {
      if (err) return;
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
      socket.resume();
      // The server may keep the connection for another request: half-close, so it ends once it has answered.
      socket.end();
    });
  });
}

/** The status line, headers and body of a raw HTTP/1.1 answer. */
export function parseRaw(raw: string): Answer {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: http.IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/** Asserts an answer in the error envelope, with its status, code and a request-id, and returns its message. */
export function expectEnvelope(answer: Answer, status: number, code: string): string {
  expect({ status: answer.status, body: answer.body.slice(0, 500) }).toMatchObject({ status });
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.headers['request-id']).toEqual(expect.any(String));
  const parsed = JSON.parse(answer.body) as { error: { message: string } };
  expect(parsed).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
  expect(['code', 'message', 'issues']).toEqual(expect.arrayContaining(Object.keys(parsed.error)));
  return parsed.error.message;
}
