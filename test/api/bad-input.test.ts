/**
 * Malformed and hostile requests, sent over real HTTP: each is answered with a 4xx in the error envelope, never a 5xx,
 * and none reaches Temporal (the live API's client fails the test when touched).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
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
      'x-webhook-secret': WEBHOOK_SECRET,
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
