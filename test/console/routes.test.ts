/**
 * The console's doors, without Temporal: who gets in, what a form needs, what a browser is told. The client fails the
 * test when touched, so a refusal is shown to happen before anything reaches a saga.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { tokens } from '../support/api-auth';

const OPERATOR = 'console-operator-token';
const FINANCE = 'console-finance-token';
const SERVICE = 'console-service-token';
const touched: string[] = [];
let api: FastifyInstance;

beforeAll(() => {
  const client = new Proxy({} as Client, {
    get(_target, property) {
      touched.push(String(property));
      throw new Error(`the console used the Temporal client (${String(property)})`);
    },
  });
  api = buildApi({
    client,
    authenticator: tokens({
      [OPERATOR]: { identity: 'alice@example.com', role: 'operator' },
      [FINANCE]: { identity: 'finn@example.com', role: 'finance' },
      [SERVICE]: { identity: 'order-service', role: 'order-service' },
    }),
  });
});
afterEach(() => expect(touched.splice(0), 'the Temporal client was used').toEqual([]));
afterAll(() => api.close());

/** The cookies an answer sets, as a `cookie` header would send them back. */
const cookiesOf = (answer: LightMyRequestResponse) => Object.fromEntries(answer.cookies.map((c) => [c.name, c.value]));

/** A sign-in page's CSRF token and the cookie it is checked against. */
async function signInForm(): Promise<{ csrf: string; cookies: Record<string, string> }> {
  const page = await api.inject({ method: 'GET', url: '/console/sign-in' });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  expect(csrf, 'the sign-in form has a CSRF token').toBeDefined();
  return { csrf: csrf!, cookies: cookiesOf(page) };
}

async function signIn(credential: string, extra: Record<string, string> = {}) {
  const { csrf, cookies } = await signInForm();
  return api.inject({
    method: 'POST',
    url: '/console/sign-in',
    cookies,
    payload: new URLSearchParams({ _csrf: csrf, credential, ...extra }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

describe('signing in to the console', () => {
  it('sends a browser without a session to sign in, and back to the page it asked for', async () => {
    const answer = await api.inject({ method: 'GET', url: '/console/finance?from=2026-11-01' });
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/console/sign-in?next=%2Fconsole%2Ffinance%3Ffrom%3D2026-11-01');
  });

  it('signs an operator in with a session cookie, and refuses an unknown credential without one', async () => {
    const wrong = await signIn('not-a-token');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('That credential is not known here.');
    expect(wrong.cookies.map((c) => c.name)).not.toContain('refund_saga_session');

    const right = await signIn(OPERATOR, { next: '/console/finance' });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe('/console/finance');
    const session = right.cookies.find((c) => c.name === 'refund_saga_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('never sends a signed-in browser to another site', async () => {
    for (const next of [
      '//evil.example/console',
      'https://evil.example/console',
      '/console//evil.example',
      '/v1/refunds',
    ]) {
      const answer = await signIn(OPERATOR, { next });
      expect({ next, location: answer.headers.location }).toEqual({ next, location: '/console' });
    }
  });

  it('refuses a sign-in form sent without its CSRF token', async () => {
    const { cookies } = await signInForm();
    const answer = await api.inject({
      method: 'POST',
      url: '/console/sign-in',
      cookies,
      payload: `credential=${OPERATOR}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(answer.statusCode).toBe(403);
    expect(answer.body).toContain('This form is out of date or was not sent from the console');
    expect(answer.cookies.map((c) => c.name)).not.toContain('refund_saga_session');
  });
});

describe('who may do what in the console', () => {
  it("turns the order service's credential away, naming its role", async () => {
    const answer = await api.inject({
      method: 'GET',
      url: '/console',
      headers: { authorization: `Bearer ${SERVICE}` },
    });
    expect(answer.statusCode).toBe(403);
    expect(answer.body).toContain(
      'The console is for operators and finance; order-service signed in as order-service.',
    );
  });

  it('lets finance read but not send overrides, one or in bulk', async () => {
    for (const url of ['/console/bulk', '/console/refunds/ord_1/overrides']) {
      const answer = await api.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${FINANCE}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'action=retryStep&step=carbon&reason=r&orderIds=ord_1',
      });
      expect({ url, status: answer.statusCode }).toEqual({ url, status: 403 });
      expect(answer.body).toContain('The finance role may not do this.');
    }
  });

  it("refuses an operator's override sent with the session cookie but no CSRF token", async () => {
    const session = (await signIn(OPERATOR)).cookies.find((c) => c.name === 'refund_saga_session')!;
    const answer = await api.inject({
      method: 'POST',
      url: '/console/refunds/ord_1/overrides',
      cookies: { refund_saga_session: session.value },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'action=retryStep&step=carbon&reason=from+another+site',
    });
    expect(answer.statusCode).toBe(403);
    expect(answer.body).toContain('This form is out of date or was not sent from the console');
  });

  it('answers a filter it does not know with 400, naming it', async () => {
    const answer = await api.inject({
      method: 'GET',
      url: '/console?step=nonsense',
      headers: { authorization: `Bearer ${OPERATOR}` },
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toMatch(/invalid filter: step: /);
  });
});

describe('a refund page when its saga cannot answer', () => {
  it('says the saga did not answer and what to check, instead of failing', async () => {
    // A client whose status query fails, as it does when no worker polls the saga's task queue.
    const unanswered = {
      workflow: { getHandle: () => ({ query: () => Promise.reject(new Error('no poller seen for task queue')) }) },
    } as unknown as Client;
    const app = buildApi({
      client: unanswered,
      authenticator: tokens({ [OPERATOR]: { identity: 'alice@example.com', role: 'operator' } }),
    });
    const answer = await app.inject({
      method: 'GET',
      url: '/console/refunds/ord_1',
      headers: { authorization: `Bearer ${OPERATOR}` },
    });
    await app.close();
    expect(answer.statusCode).toBe(503);
    expect(answer.body).toContain(
      'Refund ord_1 did not answer its status query (no poller seen for task queue). Its worker may be down',
    );
  });
});

describe('what the console sends a browser', () => {
  it('serves its assets without a session, and nothing else by that route', async () => {
    const css = await api.inject({ method: 'GET', url: '/console/assets/console.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const htmx = await api.inject({ method: 'GET', url: '/console/assets/htmx.min.js' });
    expect(htmx.statusCode).toBe(200);
    for (const url of ['/console/assets/..%2F..%2Fpackage.json', '/console/assets/routes.ts']) {
      expect((await api.inject({ method: 'GET', url })).statusCode).toBe(404);
    }
  });

  it('sends pages with a strict content security policy and keeps them out of caches', async () => {
    const page = await api.inject({ method: 'GET', url: '/console/sign-in' });
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: object }>();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
  });
});
