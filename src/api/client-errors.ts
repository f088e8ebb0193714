/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers over its limit, bytes that are not HTTP, a body
 * both chunked and with a length), answered in the error envelope rather than Node's or Fastify's own shape. No request
 * object exists for them: the answer, with a new request id, is written on the socket, which then closes.
 */
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { REQUEST_ID_HEADER } from './request-id';
import type { ErrorEnvelope } from './response-schemas';

/** How long a refused connection stays open for its client to read the answer before it is cut. */
const LINGER_MS = 5000;

/** The parser errors with an answer of their own; any other is a 400 that gives Node's reason. */
const REFUSALS: Partial<Record<string, { status: number; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: `the request line and headers are over ${maxHeaderSize} bytes`,
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request took too long to arrive' },
};

/** Fastify's `clientErrorHandler`: the error envelope for a request Node could not parse. */
export function answerClientError(logger: FastifyBaseLogger): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return (error, socket) => {
    // Already answered (more bytes after a refusal raise the same error again), or nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    // An answer is under way on this connection: another one inside it would corrupt it (as Node's own handler knows).
    if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, code, message } = REFUSALS[error.code] ?? {
      status: 400,
      code: 'bad_request',
      message: error.message,
    };
    const id = randomUUID();
    logger.info({ reqId: id, res: { statusCode: status }, parserError: error.code }, 'request refused by Node');
    const body: ErrorEnvelope = { error: { code, message } };
    const text = JSON.stringify(body);
    // Ended rather than destroyed: closing with the client's unread bytes would reset the connection, and a client
    // still sending would lose the answer with it.
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${REQUEST_ID_HEADER}: ${id}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
        `connection: close\r\n\r\n${text}`,
    );
    const cut = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(cut));
  };
}
