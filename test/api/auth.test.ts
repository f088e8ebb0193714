import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  authenticatorFrom,
  hashToken,
  jwtAuthenticator,
  readCredentialsFile,
  type Authenticator,
} from '../../src/api/auth';
import { buildApi } from '../../src/api/server';
import { tokens } from '../support/api-auth';

/** A Temporal client that records every use: a refused request must not reach Temporal. */
function untouchable() {
  const touched: string[] = [];
  const client = new Proxy({} as Client, {
    get(_target, property) {
      touched.push(String(property));
      throw new Error(`the API used the Temporal client (${String(property)})`);
    },
  });
  return { client, touched };
}

const PRINCIPALS = tokens({
  'tok-order-service': { identity: 'shop', role: 'order-service' },
  'tok-alice': { identity: 'alice@example.com', role: 'operator' },
  'tok-finance': { identity: 'fin@example.com', role: 'finance' },
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const skip = { action: 'skipStep', step: 'carbon', reason: 'refunded by hand' };
const request = {
  orderId: 'ord_1',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '00000000-0000-4000-8000-000000000000' },
};

describe('roles and identities on the API', () => {
  const { client, touched } = untouchable();
  const api = buildApi({ client, authenticator: PRINCIPALS, rateLimitPerMinute: 1000 });
  afterEach(() => {
    expect(touched.splice(0), 'a refused request reached Temporal').toEqual([]);
  });

  it('refuses an unknown or missing credential with 401', async () => {
    for (const headers of [{}, bearer('tok-mallory'), { authorization: 'Basic dG9rLWFsaWNl' }]) {
      const res = await api.inject({ method: 'GET', url: '/v1/refunds/ord_1', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'unauthorized', message: 'send Authorization: Bearer <token>' } });
    }
  });

  it('refuses an override from an order-service or a finance credential with 403, naming the role that may', async () => {
    for (const token of ['tok-order-service', 'tok-finance']) {
      const one = await api.inject({
        method: 'POST',
        url: '/v1/refunds/ord_1/overrides',
        headers: bearer(token),
        payload: skip,
      });
      expect(one.statusCode).toBe(403);
      expect(one.json()).toMatchObject({
        error: { code: 'forbidden', message: expect.stringContaining('operator may') },
      });
      const batch = await api.inject({
        method: 'POST',
        url: '/v1/refunds/overrides:batch',
        headers: bearer(token),
        payload: { orderIds: ['ord_1'], override: skip, dryRun: false },
      });
      expect(batch.statusCode).toBe(403);
    }
  });

  it('refuses a start from a finance credential', async () => {
    const res = await api.inject({
      method: 'POST',
      url: '/v1/refunds',
      headers: bearer('tok-finance'),
      payload: request,
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      error: { code: 'forbidden', message: expect.stringContaining('start refunds') },
    });
  });

  it('refuses an operator who names another operator, on one saga and in a batch', async () => {
    const one = await api.inject({
      method: 'POST',
      url: '/v1/refunds/ord_1/overrides',
      headers: bearer('tok-alice'),
      payload: { ...skip, operator: 'bob@example.com' },
    });
    expect(one.statusCode).toBe(403);
    expect(one.json()).toMatchObject({
      error: { code: 'operator_mismatch', message: expect.stringContaining('alice@example.com') },
    });
    const batch = await api.inject({
      method: 'POST',
      url: '/v1/refunds/overrides:batch',
      headers: bearer('tok-alice'),
      payload: { orderIds: ['ord_1'], override: { ...skip, operator: 'bob@example.com' }, dryRun: false },
    });
    expect(batch.statusCode).toBe(403);
    expect(batch.json()).toMatchObject({ error: { code: 'operator_mismatch' } });
  });
});

describe('the rate limit', () => {
  it('limits each identity on its own, with 429 and Retry-After', async () => {
    const { client } = untouchable();
    const api = buildApi({ client, authenticator: PRINCIPALS, rateLimitPerMinute: 3 });
    // A mismatched operator is refused by the handler, after the limit counted the request.
    const send = (token: string) =>
      api.inject({
        method: 'POST',
        url: '/v1/refunds/ord_1/overrides',
        headers: bearer(token),
        payload: { ...skip, operator: 'someone-else' },
      });
    for (let i = 0; i < 3; i++) expect((await send('tok-alice')).statusCode).toBe(403);
    const limited = await send('tok-alice');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another identity has its own budget.
    expect((await send('tok-order-service')).statusCode).toBe(403);
  });
});

describe('credential sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-auth-'));
  const write = (name: string, value: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
    return path;
  };

  it('reads a file of hashed tokens, and never needs the token itself', async () => {
    const path = write('ok.json', {
      credentials: [{ identity: 'alice@example.com', role: 'operator', tokenSha256: hashToken('s3cret-token') }],
    });
    const auth = readCredentialsFile(path);
    expect(await auth.authenticate('s3cret-token')).toEqual({ identity: 'alice@example.com', role: 'operator' });
    expect(await auth.authenticate('s3cret-token ')).toBeUndefined();
  });

  it('names the file and the entry of a bad credentials file', () => {
    const bad = write('bad.json', { credentials: [{ identity: 'x', role: 'admin', tokenSha256: 'nothex' }] });
    expect(() => readCredentialsFile(bad)).toThrow(
      /bad\.json: credentials\.0\.role: must be one of .*credentials\.0\.tokenSha256/,
    );
    expect(() => readCredentialsFile(join(dir, 'missing.json'))).toThrow(/cannot read .*missing\.json: ENOENT/);
    expect(() => readCredentialsFile(write('text.json', 'not json'))).toThrow(/text\.json: not JSON/);
  });

  it('takes JWTs signed by a key of the JWKS, for its issuer and audience, with a known role', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const auth: Authenticator = jwtAuthenticator({
      jwks: { keys: [jwk] },
      issuer: 'https://idp.example.com',
      audience: 'refund-saga',
    });
    const sign = (claims: Record<string, unknown>, key = privateKey, audience = 'refund-saga', expires = '5m') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://idp.example.com')
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(expires)
        .sign(key);

    expect(await auth.authenticate(await sign({ email: 'alice@example.com', refund_saga_role: 'operator' }))).toEqual({
      identity: 'alice@example.com',
      role: 'operator',
    });
    expect(await auth.authenticate(await sign({ sub: 'svc-shop', refund_saga_role: 'order-service' }))).toEqual({
      identity: 'svc-shop',
      role: 'order-service',
    });
    for (const refused of [
      await sign({ email: 'a@example.com', refund_saga_role: 'admin' }),
      await sign({ email: 'a@example.com' }),
      await sign({ email: 'a@example.com', refund_saga_role: 'operator' }, other.privateKey),
      await sign({ email: 'a@example.com', refund_saga_role: 'operator' }, privateKey, 'someone-else'),
      await sign({ email: 'a@example.com', refund_saga_role: 'operator' }, privateKey, 'refund-saga', '-1m'),
      'not-a-jwt',
    ]) {
      expect(await auth.authenticate(refused)).toBeUndefined();
    }
  });

  it('builds no authenticator when nothing is configured, and one from API_TOKEN alone', async () => {
    expect(authenticatorFrom({})).toBeUndefined();
    const auth = authenticatorFrom({
      token: { token: 'a-long-enough-token', identity: 'order-service', role: 'order-service' },
    })!;
    expect(await auth.authenticate('a-long-enough-token')).toEqual({
      identity: 'order-service',
      role: 'order-service',
    });
  });
});
