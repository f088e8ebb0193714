/**
 * The error classification every provider client must show against its sandbox: one test per rule (401, 404, 429 with
 * Retry-After, 408, 5xx, hang → timeout, malformed body), each checking `retryable` and the request id.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ProviderAuthError,
  ProviderMalformedResponseError,
  ProviderNotFoundError,
  ProviderRateLimitError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from '../../src/providers/errors';
import type { ProviderName } from '../../src/providers/errors';
import type { SandboxServer } from '../../src/providers/sandbox-server';
import { rejectionOf } from './sandboxes';

export interface ErrorContract {
  provider: ProviderName;
  sandbox: SandboxServer<unknown, object>;
  /** The fault-rule name of the read route exercised. */
  route: string;
  /** A read of an existing resource, with the sandbox's key or `apiKey`, and an optional per-call timeout. */
  read(options: { apiKey?: string; timeoutMs?: number }): Promise<unknown>;
  /** A read of a resource that does not exist. */
  readMissing(): Promise<unknown>;
  /** The field the malformed-body error must name. */
  malformedField: string;
  /** What the provider's request ids look like, or `undefined` where the provider sends none. */
  requestId: RegExp | undefined;
}

/** Declares the classification tests for one client. */
export function itClassifiesErrors(contract: () => ErrorContract) {
  const expectRequestId = (err: unknown, c: ErrorContract) => {
    if (c.requestId) expect((err as { requestId?: string }).requestId).toMatch(c.requestId);
  };

  it('maps a wrong key to a permanent auth error (401)', async () => {
    const c = contract();
    const err = await rejectionOf(c.read({ apiKey: 'wrong-key' }));
    expect(err).toBeInstanceOf(ProviderAuthError);
    expect(err).toMatchObject({ provider: c.provider, status: 401, retryable: false });
    expectRequestId(err, c);
  });

  it('maps an unknown resource to a permanent not-found error (404)', async () => {
    const c = contract();
    const err = await rejectionOf(c.readMissing());
    expect(err).toBeInstanceOf(ProviderNotFoundError);
    expect(err).toMatchObject({ provider: c.provider, status: 404, retryable: false });
    expectRequestId(err, c);
  });

  it('maps 429 to a retryable rate-limit error carrying Retry-After', async () => {
    const c = contract();
    c.sandbox.addFault({ route: c.route, failNext: 1, status: 429, retryAfterSeconds: 7 });
    const err = await rejectionOf(c.read({}));
    expect(err).toBeInstanceOf(ProviderRateLimitError);
    expect(err).toMatchObject({ provider: c.provider, status: 429, retryable: true, retryAfterMs: 7000 });
    expectRequestId(err, c);
  });

  it('maps 408 to a retryable timeout: the provider may or may not have acted, so the same key is sent again', async () => {
    const c = contract();
    c.sandbox.addFault({ route: c.route, failNext: 1, status: 408 });
    const err = await rejectionOf(c.read({}));
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(err).toMatchObject({ provider: c.provider, status: 408, retryable: true });
    expectRequestId(err, c);
  });

  it('maps 5xx to a retryable unavailable error', async () => {
    const c = contract();
    c.sandbox.addFault({ route: c.route, failNext: 1, status: 503 });
    const err = await rejectionOf(c.read({}));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err).toMatchObject({ provider: c.provider, status: 503, retryable: true });
    expectRequestId(err, c);
  });

  it('gives up on a hanging request at the per-call timeout, as a retryable timeout', async () => {
    const c = contract();
    c.sandbox.addFault({ route: c.route, failNext: 1, hang: true });
    const err = await rejectionOf(c.read({ timeoutMs: 200 }));
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(err).toMatchObject({ provider: c.provider, retryable: true });
  });

  it('reports a body that does not match the schema as a malformed response naming the field', async () => {
    const c = contract();
    c.sandbox.addFault({ route: c.route, failNext: 1, malformed: true });
    const err = await rejectionOf(c.read({}));
    expect(err).toBeInstanceOf(ProviderMalformedResponseError);
    expect(err).toMatchObject({ provider: c.provider, retryable: false, field: c.malformedField });
    expect((err as Error).message).toContain(c.malformedField);
  });
}

/**
 * A throwaway HTTP server for the file that answers every request with `status` and the body `answer()` returns, for
 * bodies no sandbox sends (e.g. a timestamp that is not one); `url()` is its base URL.
 */
export function useFixedAnswerServer(answer: () => unknown, status = 200) {
  let server: Server | undefined;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer()));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));
  return { url: () => url };
}
