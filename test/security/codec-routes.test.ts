import { defaultPayloadConverter } from '@temporalio/common';
import { JSONToPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import type { FastifyRequest } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCodecServer, type CodecCaller } from '../../src/api/codec-routes';
import { PayloadEncryptionCodec } from '../../src/security/codec';
import { generatePayloadKey } from '../../src/security/keys';

const UI = 'http://localhost:8233';
const key = generatePayloadKey('2026-11');
const codec = new PayloadEncryptionCodec([key]);

const CALLERS: Record<string, CodecCaller> = {
  'tok-operator': { identity: 'alice@example.com', role: 'operator' },
  'tok-shop': { identity: 'shop', role: 'order-service' },
};
async function authenticate(request: FastifyRequest): Promise<CodecCaller | undefined> {
  const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
  return Promise.resolve(token ? CALLERS[token] : undefined);
}

const server = buildCodecServer({ codec, authenticate, allowedRoles: ['operator', 'finance'], corsOrigins: [UI] });
afterAll(() => server.close());

const operator = { authorization: 'Bearer tok-operator', 'x-namespace': 'default' };
const plain = payloadToJSON(defaultPayloadConverter.toPayload({ consumerReference: 'consumer-77', userId: 'U987' }));
const post = (url: string, body: unknown, headers: Record<string, string> = operator) =>
  server.inject({
    method: 'POST',
    url,
    payload: body as object,
    headers: { 'content-type': 'application/json', ...headers },
  });
const corsHeaders = (headers: Record<string, unknown>) =>
  Object.keys(headers).filter((name) => name.startsWith('access-control-'));

describe('the codec server routes (Temporal remote codec protocol)', () => {
  it('encodes for an allowed role, and decodes back to the same JSON payloads', async () => {
    const encoded = await post('/codec/encode', { payloads: [plain] });
    expect(encoded.statusCode).toBe(200);
    const [sealed] = encoded.json<{ payloads: Array<{ metadata: Record<string, string>; data: string }> }>().payloads;
    expect(Buffer.from(sealed!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(sealed!.metadata['encryption-key-id']!, 'base64').toString()).toBe('2026-11');
    expect(Buffer.from(sealed!.data, 'base64').toString('latin1')).not.toContain('consumer-77');

    const decoded = await post('/codec/decode', { payloads: [sealed] });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.json()).toEqual({ payloads: [plain] });
    expect(
      defaultPayloadConverter.fromPayload(JSONToPayload(decoded.json<{ payloads: [object] }>().payloads[0])),
    ).toEqual({ consumerReference: 'consumer-77', userId: 'U987' });
  });

  it('decodes what the workers wrote, and passes plaintext payloads through', async () => {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('alice@example.com')]);
    const res = await post('/codec/decode', { payloads: [payloadToJSON(sealed!), plain] });
    expect(res.statusCode).toBe(200);
    const [first, second] = res.json<{ payloads: [object, object] }>().payloads;
    expect(defaultPayloadConverter.fromPayload(JSONToPayload(first))).toBe('alice@example.com');
    expect(second).toEqual(plain);
  });

  it('refuses a caller without a known credential with 401, in the API’s error envelope', async () => {
    for (const headers of [{}, { authorization: 'Bearer tok-mallory' }] as Array<Record<string, string>>) {
      for (const route of ['/codec/encode', '/codec/decode']) {
        const res = await post(route, { payloads: [plain] }, headers);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ error: { code: 'unauthorized', message: 'send Authorization: Bearer <token>' } });
      }
    }
  });

  it('refuses a role that may not decode with 403, naming the roles that may', async () => {
    const res = await post('/codec/decode', { payloads: [plain] }, { authorization: 'Bearer tok-shop' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: {
        code: 'forbidden',
        message: 'the order-service role may not encode or decode payloads; operator or finance may',
      },
    });
  });

  it('answers 400 naming the key id for a payload it cannot decrypt, and for a body that is not payloads', async () => {
    const [sealed] = await new PayloadEncryptionCodec([generatePayloadKey('retired')]).encode([
      defaultPayloadConverter.toPayload('x'),
    ]);
    const unknown = await post('/codec/decode', { payloads: [payloadToJSON(sealed!)] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({
      error: {
        code: 'decode_failed',
        message: expect.stringContaining('key "retired", which this process does not hold'),
      },
    });
    for (const body of [{}, { payloads: [{ data: 'not base64!' }] }]) {
      const res = await post('/codec/decode', body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    }
  });

  it('never echoes X-Namespace into an error', async () => {
    const hostile = `<script>alert(1)</script>${'n'.repeat(300)}`;
    const res = await post('/codec/decode', { payloads: [plain] }, { ...operator, 'x-namespace': hostile });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('<script>');
    expect(res.json()).toMatchObject({ error: { code: 'invalid_request', message: 'invalid X-Namespace' } });
  });
});

describe('CORS for the Temporal UI', () => {
  const preflight = (origin: string, route = '/codec/decode') =>
    server.inject({
      method: 'OPTIONS',
      url: route,
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });

  it('answers a preflight from a configured origin without credentials, allowing what the UI sends', async () => {
    const res = await preflight(UI);
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': UI,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'Content-Type, X-Namespace, Authorization',
    });
    const actual = await post('/codec/decode', { payloads: [plain] }, { ...operator, origin: UI });
    expect(actual.statusCode).toBe(200);
    expect(actual.headers['access-control-allow-origin']).toBe(UI);
    // A refusal is readable by the UI too, so it can say why.
    const refused = await post('/codec/decode', { payloads: [plain] }, { origin: UI });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(UI);
  });

  it('gives no CORS header at all to another origin, on the preflight or the request', async () => {
    const res = await preflight('https://evil.example');
    expect(res.statusCode).not.toBe(204);
    expect(corsHeaders(res.headers)).toEqual([]);
    const actual = await post('/codec/decode', { payloads: [plain] }, { ...operator, origin: 'https://evil.example' });
    expect(corsHeaders(actual.headers)).toEqual([]);
  });
});
