/**
 * Malformed and hostile requests, sent over real HTTP: each is answered with a 4xx in the error envelope, never a 5xx,
 * and none reaches Temporal (the live API's client fails the test when touched).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { signCircleNotification } from '../../src/providers/circle/webhook-signature';
import { auth, expectEnvelope, postJson, send, useLiveApi, WEBHOOK_SECRET, validRequest } from './live-api';

const live = useLiveApi();
const port = () => live.port();

/** Passes every check of the body's encoding but fails the schema: a 400 naming `orderId` shows it was read. */
const readableButInvalid = JSON.stringify({ ...validRequest, orderId: 'not valid!' });
const expectRead = async (headers: Record<string, string>, body: string | Buffer = readableButInvalid) => {
  const answer = await postJson(port(), '/v1/refunds', body, headers);
  expectEnvelope(answer, 400, 'invalid_request');
  expect(answer.body).toContain('"path":"orderId"');
};

describe('bodies the API does not read', () => {
  it('refuses JSON in a charset other than UTF-8 with 415, naming the charset, on every route', async () => {
    for (const charset of ['utf-16', 'UTF-16LE', 'iso-8859-1', 'us-ascii', '"utf-16"']) {
      const answer = await postJson(port(), '/v1/refunds', JSON.stringify(validRequest), {
        'content-type': `application/json; charset=${charset}`,
      });
      expect(expectEnvelope(answer, 415, 'unsupported_media_type')).toContain(charset.replaceAll('"', ''));
    }
    const webhook = await postJson(port(), '/v1/webhooks/circle', '{}', {
      'content-type': 'application/json;charset=utf-16',
      ...signCircleNotification('{}', WEBHOOK_SECRET),
    });
    expectEnvelope(webhook, 415, 'unsupported_media_type');
  });

  it('reads JSON declared as UTF-8 in any spelling, or with no charset', async () => {
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON; Charset=UTF-8',
      'application/json;charset="utf-8"',
    ]) {
      await expectRead({ 'content-type': contentType });
    }
  });

  it('refuses any other media type, or none, with 415 unsupported_media_type', async () => {
    for (const contentType of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json-patch+json',
      'json',
    ]) {
      const answer = await postJson(port(), '/v1/refunds', JSON.stringify(validRequest), {
        'content-type': contentType,
      });
      expect(expectEnvelope(answer, 415, 'unsupported_media_type'), contentType).toContain('application/json');
    }
    const untyped = await send(port(), '/v1/refunds', { headers: auth, body: JSON.stringify(validRequest) });
    expectEnvelope(untyped, 415, 'unsupported_media_type');
  });

  it('refuses a compressed body with 415 naming Content-Encoding: the API does not decompress', async () => {
    const gzipped = gzipSync(JSON.stringify(validRequest));
    for (const encoding of ['gzip', 'deflate', 'br', 'identity, gzip', 'x-unknown']) {
      const body = encoding === 'gzip' ? gzipped : JSON.stringify(validRequest);
      const answer = await postJson(port(), '/v1/refunds', body, { 'content-encoding': encoding });
      expect(expectEnvelope(answer, 415, 'unsupported_media_type'), encoding).toContain('Content-Encoding');
    }
    await expectRead({ 'content-encoding': 'identity' });
    await expectRead({ 'content-encoding': 'Identity' });
  });

  it('refuses a body that is not UTF-8 (a stray byte, an overlong or surrogate sequence) with 400', async () => {
    for (const bytes of [[0xff], [0xc0, 0xae], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const [head, tail] = JSON.stringify({ ...validRequest, reason: '#' }).split('#');
      const body = Buffer.concat([Buffer.from(head!), Buffer.from(bytes), Buffer.from(tail!)]);
      const answer = await postJson(port(), '/v1/refunds', body);
      expect(expectEnvelope(answer, 400, 'bad_request'), bytes.join(' ')).toMatch(/UTF-8/);
    }
  });
});

describe('hostile values', () => {
  const deep = 10_000;
  const bodyRoutes = ['/v1/refunds', '/v1/refunds/ord_1/overrides', '/v1/refunds/overrides:batch'];

  it('answers JSON nested 10,000 levels deep with 400 on every route', async () => {
    const nestings: Array<[string, string, string]> = [
      ['closed arrays', '['.repeat(deep) + ']'.repeat(deep), 'invalid_request'],
      ['unclosed arrays', '['.repeat(deep), 'bad_request'],
      ['objects', '{"a":'.repeat(deep) + '1' + '}'.repeat(deep), 'invalid_request'],
      [
        'a field',
        JSON.stringify({ ...validRequest, reason: '#' }).replace('"#"', '['.repeat(deep) + ']'.repeat(deep)),
        'invalid_request',
      ],
    ];
    for (const [what, body, code] of nestings) {
      for (const path of [...bodyRoutes, '/v1/webhooks/circle']) {
        const answer = await postJson(port(), path, body, signCircleNotification(body, WEBHOOK_SECRET));
        expect(answer.status, `${what} to ${path}`).toBe(400);
        expectEnvelope(answer, 400, code);
      }
    }
  });

  it('refuses __proto__ and constructor keys in a body or a query string, and nothing is polluted', async () => {
    const request = JSON.stringify(validRequest).slice(1);
    const poisoned = [
      `{"__proto__":{"polluted":true},${request}`,
      `{"constructor":{"prototype":{"polluted":true}},${request}`,
      JSON.stringify({ ...validRequest, amount: { ...validRequest.amount, constructor: { prototype: { x: 1 } } } }),
    ];
    for (const body of poisoned) {
      const answer = await postJson(port(), '/v1/refunds', body);
      expect(expectEnvelope(answer, 400, 'bad_request'), body).toMatch(/__proto__ or constructor.prototype/);
    }
    const unknownKey = await postJson(port(), '/v1/refunds', { ...validRequest, constructor: 'x' });
    expectEnvelope(unknownKey, 400, 'invalid_request');
    for (const query of [
      '__proto__[polluted]=1',
      '__proto__=1',
      'constructor[prototype][polluted]=1',
      'constructor=1',
    ]) {
      expectEnvelope(await send(port(), `/v1/refunds?${query}`, { headers: auth }), 400, 'invalid_request');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses order ids that climb out of the path, encoded or not, without reaching Temporal', async () => {
    for (const id of [
      '..',
      '%2e%2e',
      '..%2f..%2fetc%2fpasswd',
      '%2e%2e%2f%2e%2e%2f',
      '..%5c..%5c',
      '%252e%252e%252f',
    ]) {
      expectEnvelope(await send(port(), `/v1/refunds/${id}`, { headers: auth }), 400, 'invalid_request');
      expectEnvelope(
        await postJson(port(), `/v1/refunds/${id}/overrides`, { action: 'abort', operator: 'ops', reason: 'test' }),
        400,
        'invalid_request',
      );
    }
    expectEnvelope(await send(port(), '/v1/refunds/../../etc/passwd', { headers: auth }), 404, 'not_found');
    const body = await postJson(port(), '/v1/refunds', { ...validRequest, orderId: '../../etc/passwd' });
    expectEnvelope(body, 400, 'invalid_request');
  });

  it('refuses NUL bytes, control characters and bidirectional overrides, in an id or in free text', async () => {
    for (const id of ['a%00b', 'a%E2%80%AEb', 'a%0Ab', '%EF%BF%BD']) {
      expectEnvelope(await send(port(), `/v1/refunds/${id}`, { headers: auth }), 400, 'invalid_request');
    }
    // Overlong UTF-8 is not a URL Fastify can decode.
    expectEnvelope(await send(port(), '/v1/refunds/%C0%AE%C0%AE', { headers: auth }), 400, 'bad_request');
    for (const text of ['refund\u0000', 'refund \u202edlrow', 'a\u2066b', 'bell\u0007', 'del\u007f']) {
      const refund = await postJson(port(), '/v1/refunds', { ...validRequest, reason: text });
      expectEnvelope(refund, 400, 'invalid_request');
      expect(refund.body, JSON.stringify(text)).toContain('"path":"reason"');
      const override = await postJson(port(), '/v1/refunds/ord_1/overrides', {
        action: 'abort',
        operator: `ops${text}`,
        reason: 'test',
      });
      expectEnvelope(override, 400, 'invalid_request');
      expect(override.body).toContain('"path":"operator"');
      const batch = await postJson(port(), '/v1/refunds/overrides:batch', {
        where: `OrderId = '${text}'`,
        override: { action: 'abort', operator: 'ops', reason: 'test' },
      });
      expectEnvelope(batch, 400, 'invalid_request');
      expect(batch.body).toContain('"path":"where"');
    }
    // Tabs and line breaks are text, not tricks: only the bad order id is named.
    const lines = await postJson(port(), '/v1/refunds', { ...validRequest, orderId: '?', reason: 'one\r\ntwo\tthree' });
    expectEnvelope(lines, 400, 'invalid_request');
    expect(lines.body).toContain('"path":"orderId"');
    expect(lines.body).not.toContain('"path":"reason"');
    const key = await postJson(port(), '/v1/refunds', `{"orderId\\u0000":"x",${JSON.stringify(validRequest).slice(1)}`);
    expectEnvelope(key, 400, 'invalid_request');
  });

  it('refuses wrong types and unknown fields with 400 naming each field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...validRequest, orderId: 42 }, 'orderId'],
      [{ ...validRequest, amount: '12.60' }, 'amount'],
      [{ ...validRequest, payment: [] }, 'payment'],
      [{ ...validRequest, amount: { value: 12.6, currency: 'USD' } }, 'amount.value'],
      [{ ...validRequest, amount: { value: '1e3', currency: 'USD' } }, 'amount.value'],
      [{ ...validRequest, amount: { value: '-1', currency: 'USD' } }, 'amount.value'],
      [{ ...validRequest, carbon: { provider: 'stripe_climate', orderId: ['climorder_1'] } }, 'carbon'],
      [{ ...validRequest, admin: true }, '(root)'],
      [null, '(root)'],
      [[validRequest], '(root)'],
      ['ord_1', '(root)'],
      [42, '(root)'],
      [true, '(root)'],
    ];
    for (const [body, path] of cases) {
      const answer = await postJson(port(), '/v1/refunds', JSON.stringify(body));
      expectEnvelope(answer, 400, 'invalid_request');
      expect(answer.body, JSON.stringify(body)).toContain(`"path":"${path}`);
    }
  });

  it('refuses missing or wrong credentials with 401 on every route, whatever the body', async () => {
    const credentials = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'bearer test-token' },
      { authorization: 'Bearer  test-token' },
      { authorization: 'Basic dGVzdC10b2tlbjo=' },
      { authorization: 'test-token' },
      { authorization: `Bearer ${'t'.repeat(8000)}` },
    ];
    for (const headers of credentials) {
      for (const path of bodyRoutes) {
        const answer = await send(port(), path, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(validRequest),
        });
        expectEnvelope(answer, 401, 'unauthorized');
      }
      expectEnvelope(await send(port(), '/v1/refunds/ord_1', { headers }), 401, 'unauthorized');
    }
    const webhookHeaders = [
      {},
      { 'x-webhook-secret': WEBHOOK_SECRET },
      signCircleNotification('{}', 'wrong-secret-wrong-secret'),
      signCircleNotification('{}', `${WEBHOOK_SECRET} `.repeat(2)),
      signCircleNotification('{"other":"body"}', WEBHOOK_SECRET),
    ];
    for (const headers of webhookHeaders) {
      const answer = await postJson(port(), '/v1/webhooks/circle', '{}', headers);
      expectEnvelope(answer, 401, 'unauthorized');
    }
  });
});
