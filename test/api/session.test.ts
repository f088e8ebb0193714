import type { Client } from '@temporalio/client';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { registerCookies, requestPrincipal, SESSION_COOKIE } from '../../src/api/session';
import { tokens } from '../support/api-auth';

const SECRET = 'a-session-secret-of-at-least-32-chars';
const auth = tokens({ 'tok-alice': { identity: 'alice@example.com', role: 'operator' } });
const client = new Proxy({} as Client, {
  get: () => {
    throw new Error('no Temporal here');
  },
});

/** An app that answers with the principal `requestPrincipal` finds, as the codec server and the console ask. */
function whoAmI() {
  const app = Fastify();
  registerCookies(app, SECRET);
  app.get('/who', async (request) => (await requestPrincipal(request, auth)) ?? { nobody: true });
  return app;
}
const session = (app: ReturnType<typeof whoAmI>, value: object) =>
  app.signCookie(Buffer.from(JSON.stringify(value)).toString('base64url'));

describe('browser sessions', () => {
  it('signs a credential in with an HTTP-only, same-site cookie that names its principal', async () => {
    const api = buildApi({ client, authenticator: auth, sessionSecret: SECRET });
    const res = await api.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { authorization: 'Bearer tok-alice' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ identity: 'alice@example.com', role: 'operator' });
    const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE)!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 8 * 3600 });

    // The cookie is what the codec server and the console read.
    const app = whoAmI();
    const who = await app.inject({ url: '/who', cookies: { [SESSION_COOKIE]: cookie.value } });
    expect(who.json()).toEqual({ identity: 'alice@example.com', role: 'operator' });

    const wrong = await api.inject({ method: 'POST', url: '/v1/session', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.cookies).toEqual([]);
  });

  it('takes no forged, tampered or expired cookie', async () => {
    const app = whoAmI();
    await app.ready();
    const future = Date.now() + 60_000;
    const valid = session(app, { identity: 'alice@example.com', role: 'operator', exp: future });
    expect((await app.inject({ url: '/who', cookies: { [SESSION_COOKIE]: valid } })).json()).toMatchObject({
      identity: 'alice@example.com',
    });
    const forged = Buffer.from(JSON.stringify({ identity: 'mallory', role: 'operator', exp: future })).toString(
      'base64url',
    );
    const tampered = valid.replace(/^[^.]+/, forged);
    const expired = session(app, { identity: 'alice@example.com', role: 'operator', exp: Date.now() - 1 });
    const badRole = session(app, { identity: 'alice@example.com', role: 'admin', exp: future });
    for (const value of [forged, tampered, expired, badRole]) {
      expect((await app.inject({ url: '/who', cookies: { [SESSION_COOKIE]: value } })).json()).toEqual({
        nobody: true,
      });
    }
  });

  it('serves the sign-in page and signs out without a credential', async () => {
    const api = buildApi({ client, authenticator: auth });
    const page = await api.inject({ url: '/sign-in' });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain("fetch('/v1/session'");
    const out = await api.inject({ method: 'DELETE', url: '/v1/session' });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === SESSION_COOKIE)).toMatchObject({ value: '' });
  });
});
