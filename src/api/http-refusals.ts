/**
 * Requests refused at the HTTP level, which Node would otherwise answer in its own shape or not at all: bytes its parser
 * refuses (headers over its limit, not HTTP, a body both chunked and with a length), an HTTP/1.1 request without Host,
 * an `Expect` other than `100-continue`, and CONNECT. Each gets the error envelope and a request id.
 */
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import { sendError } from './errors';
import { REQUEST_ID_HEADER, requestId } from './request-id';
import type { ErrorEnvelope } from './response-schemas';

/** How long a refused connection stays open for its client to read the answer before it is cut. */
const LINGER_MS = 5000;

/** The parser errors with an answer of their own; any other is a 400 that gives Node's reason. */
const PARSER_REFUSALS: Partial<Record<string, { status: number; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: `the request line and headers are over ${maxHeaderSize} bytes`,
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request took too long to arrive' },
};

/** Options of Node's server: the API checks Host itself (below), so that a request without one gets the envelope. */
export const HTTP_SERVER_OPTIONS: ServerOptions = { requireHostHeader: false };

const envelope = (code: string, message: string) =>
  JSON.stringify({ error: { code, message } } satisfies ErrorEnvelope);

/** Writes an answer in the envelope on a socket no response object owns, then closes it. */
function answerOnSocket(socket: Duplex, status: number, code: string, message: string, id: string): void {
  const text = envelope(code, message);
  // Ended rather than destroyed: closing with the client's unread bytes would reset the connection, and a client
  // still sending would lose the answer with it.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${REQUEST_ID_HEADER}: ${id}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
      `connection: close\r\n\r\n${text}`,
  );
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once('close', () => clearTimeout(cut));
}

/** Fastify's `clientErrorHandler`: the envelope for a request Node could not parse, which has no request object. */
export function answerClientError(logger: FastifyBaseLogger): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return (error, socket) => {
    // Already answered (more bytes after a refusal raise the same error again), or nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    // An answer is under way on this connection: another one inside it would corrupt it (as Node's own handler knows).
    if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = PARSER_REFUSALS[error.code] ?? { status: 400, code: 'bad_request', message: error.message };
    const id = randomUUID();
    logger.info({ reqId: id, res: { statusCode: refusal.status }, parserError: error.code }, 'request refused by Node');
    answerOnSocket(socket, refusal.status, refusal.code, refusal.message, id);
  };
}

/** Answers what Node's server would answer itself, or drop, in the envelope; call before the routes are added. */
export function refuseMalformedHttp(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    // HTTP/1.1 requires Host (RFC 9112, 3.2); Node's own check answers an empty 400.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return sendError(reply, 400, 'bad_request', 'an HTTP/1.1 request needs a Host header');
    }
  });
  // Node answers an empty 417 when nobody listens.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const id = requestId(request);
    app.log.info({ reqId: id, res: { statusCode: 417 } }, 'request refused: Expect');
    const text = envelope('expectation_failed', 'the only Expect the API meets is 100-continue');
    response.writeHead(417, {
      [REQUEST_ID_HEADER]: id,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  });
  // Node drops a CONNECT when nobody listens: the API is no proxy, and says so.
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    const id = requestId(request);
    app.log.info({ reqId: id, res: { statusCode: 405 } }, 'request refused: CONNECT');
    answerOnSocket(socket, 405, 'method_not_allowed', 'CONNECT is not supported: the API is no proxy', id);
  });
}
