/**
 * Requests refused before any route runs, over real sockets: URLs and headers over Node's limits, bytes that are not
 * HTTP, bodies over the limit. Each gets its status in the error envelope, never a bare reset.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  auth,
  expectEnvelope,
  parseRaw,
  postJson,
  send,
  sendThenRead,
  useLiveApi,
  UUID,
  validRequest,
} from './live-api';

const live = useLiveApi();
const port = () => live.port();

const TEN_MB = 10 * 1024 * 1024;
const refundHead = (framing: string) =>
  `POST /v1/refunds HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth.authorization}\r\n` +
  `Content-Type: application/json\r\n${framing}\r\n\r\n`;

describe('URLs and headers over the limits', () => {
  it('answers an order id of 10,000 characters with 414 in the envelope, with a request-id', async () => {
    const answer = await send(port(), `/v1/refunds/${'a'.repeat(10_000)}`, { headers: auth });
    expect(expectEnvelope(answer, 414, 'bad_request')).toBe('a path parameter is too long');
    expect(answer.headers['request-id']).toMatch(UUID);
  });

  it('answers 20 KB of headers with 431 in the envelope and closes, so a keep-alive client starts afresh', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(port(), '/healthz', { agent })).status).toBe(200);
      const answer = await send(port(), '/v1/refunds/ord_1', {
        agent,
        headers: { ...auth, 'x-padding': 'p'.repeat(20_000) },
      });
      expect(expectEnvelope(answer, 431, 'headers_too_large')).toMatch(/header/i);
      expect(answer.headers.connection).toBe('close');
      expect(answer.headers['request-id']).toMatch(UUID);
      expect((await send(port(), '/healthz', { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
    // Megabytes more than the parser looks at, all sent before the client reads: the answer still arrives.
    const flood = await sendThenRead(port(), `GET /healthz HTTP/1.1\r\nX-Padding: ${'p'.repeat(20_000_000)}\r\n\r\n`);
    expectEnvelope(parseRaw(flood), 431, 'headers_too_large');
  });

  it('answers bytes that are not HTTP, and a request both chunked and with a length, with 400 in the envelope', async () => {
    const garbage = parseRaw(await sendThenRead(port(), 'NOT HTTP AT ALL\r\n\r\n'));
    expectEnvelope(garbage, 400, 'bad_request');
    expect(garbage.headers.connection).toBe('close');
    const smuggled = parseRaw(
      await sendThenRead(port(), refundHead('Content-Length: 4\r\nTransfer-Encoding: chunked') + '0\r\n\r\n'),
    );
    expectEnvelope(smuggled, 400, 'bad_request');
  });
});

describe('requests Node would answer itself, outside the envelope', () => {
  it('answers an HTTP/1.1 request without Host with 400 in the envelope, and one in HTTP/1.0 as usual', async () => {
    const noHost = parseRaw(await sendThenRead(port(), 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
    expect(expectEnvelope(noHost, 400, 'bad_request')).toMatch(/Host/);
    expect(noHost.headers['request-id']).toMatch(UUID);
    expect(parseRaw(await sendThenRead(port(), 'GET /healthz HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('answers an Expect other than 100-continue with 417 in the envelope, with the caller’s request-id', async () => {
    const answer = await send(port(), '/v1/refunds', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', expect: 'something-else', 'request-id': 'expect-1' },
      body: JSON.stringify(validRequest),
    });
    expect(expectEnvelope(answer, 417, 'expectation_failed')).toMatch(/100-continue/);
    expect(answer.headers['request-id']).toBe('expect-1');
  });

  it('answers CONNECT with 405 in the envelope instead of dropping the connection', async () => {
    const answer = parseRaw(
      await sendThenRead(port(), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
    );
    expectEnvelope(answer, 405, 'method_not_allowed');
    expect(answer.headers.connection).toBe('close');
  });
});

describe('a body over the limit', () => {
  it('is answered 413 in the envelope to a client that sends all 10 MB before it reads', async () => {
    const body = Buffer.alloc(TEN_MB, ' ');
    const declared = parseRaw(
      await sendThenRead(port(), Buffer.concat([Buffer.from(refundHead(`Content-Length: ${TEN_MB}`)), body])),
    );
    expectEnvelope(declared, 413, 'body_too_large');
    expect(declared.headers['request-id']).toMatch(UUID);
    const chunked = Buffer.concat([
      Buffer.from(refundHead('Transfer-Encoding: chunked') + `${TEN_MB.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    expectEnvelope(parseRaw(await sendThenRead(port(), chunked)), 413, 'body_too_large');
    const unauthenticated = refundHead(`Content-Length: ${TEN_MB}`).replace(auth.authorization, 'Bearer wrong');
    expectEnvelope(
      parseRaw(await sendThenRead(port(), Buffer.concat([Buffer.from(unauthenticated), body]))),
      401,
      'unauthorized',
    );
  });

  it('keeps the connection for the next request once it has read the refused body', async () => {
    const next = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const bytes = Buffer.concat([
      Buffer.from(refundHead(`Content-Length: ${TEN_MB}`)),
      Buffer.alloc(TEN_MB, ' '),
      Buffer.from(next),
    ]);
    const answers = await sendThenRead(port(), bytes);
    expect(answers.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 413', 'HTTP/1.1 200']);
  });

  it('answers, then cuts off a client that keeps sending far past the limit, on a route or a URL it cannot route', async () => {
    const megabyte = 1024 * 1024;
    const chunk = Buffer.concat([
      Buffer.from(`${megabyte.toString(16)}\r\n`),
      Buffer.alloc(megabyte, ' '),
      Buffer.from('\r\n'),
    ]);
    const cases: Array<[string, number, string]> = [
      ['/v1/refunds', 413, 'body_too_large'],
      [`/v1/refunds/${'a'.repeat(200)}/overrides`, 414, 'bad_request'],
    ];
    for (const [path, status, code] of cases) {
      const socket = net.connect(port(), '127.0.0.1');
      let answer = '';
      socket.on('data', (data: Buffer) => (answer += data.toString()));
      // The cut is the point: a reset or a broken pipe.
      socket.on('error', () => {});
      const closed = new Promise((resolve) => socket.once('close', resolve));
      let sent = 0;
      const pump = () => {
        while (!socket.destroyed && sent < 64 * megabyte) {
          sent += megabyte;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      socket.write(refundHead('Transfer-Encoding: chunked').replace('/v1/refunds', path));
      pump();
      await closed;
      expectEnvelope(parseRaw(answer), status, code);
      expect(sent, path).toBeLessThan(64 * megabyte);
    }
  });

  it('is answered 413 in the envelope to node:http writing 10 MB, with a length or chunked', async () => {
    const body = Buffer.alloc(TEN_MB, ' ');
    expectEnvelope(await postJson(port(), '/v1/refunds', body), 413, 'body_too_large');
    expectEnvelope(
      await postJson(port(), '/v1/refunds', body, { 'transfer-encoding': 'chunked' }),
      413,
      'body_too_large',
    );
  });

  it('is answered 413 before it is sent when its length is beyond what the API reads, and the connection closes', async () => {
    const answer = await postJson(port(), '/v1/refunds', JSON.stringify(validRequest), {
      'content-length': String(1024 ** 3),
    });
    expectEnvelope(answer, 413, 'body_too_large');
    expect(answer.headers.connection).toBe('close');
  });
});
