/**
 * Answers sent before the request's body has been read (a 413, a 401, a 415): the API reads and drops the rest of the
 * body, up to a bound, rather than close at once. A socket closed with the client's bytes unread is reset, and a
 * client that sends its whole body before it reads, as many do, would see the reset instead of the answer.
 */
import { finished } from 'node:stream';
import type { FastifyInstance } from 'fastify';

/** The most of a refused body the API reads to let its answer through; a client sending more is cut off. */
const DISCARD_LIMIT = 16 * 1024 * 1024;
/** How long the API waits for the rest of a refused body before it cuts the connection. */
const DISCARD_TIMEOUT_MS = 10_000;

/** Adds the hooks that read and drop, up to {@link DISCARD_LIMIT}, the body of a request answered before it was read. */
export function discardUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete) return;
    // Fastify closes the connection after a body it stopped reading: keep it, and read the rest below; a body
    // declared larger than the bound is not waited for.
    if (Number(request.headers['content-length'] ?? 0) > DISCARD_LIMIT) reply.header('connection', 'close');
    else reply.removeHeader('connection');
  });
  app.addHook('onResponse', async (request, reply) => {
    const body = request.raw;
    if (body.complete || reply.getHeader('connection') === 'close') return;
    const cut = () => body.socket.destroy();
    const timer = setTimeout(cut, DISCARD_TIMEOUT_MS);
    finished(body, () => clearTimeout(timer));
    let discarded = 0;
    body.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > DISCARD_LIMIT) cut();
    });
    body.resume();
  });
}
