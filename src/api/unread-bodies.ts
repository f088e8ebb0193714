/**
 * Answers sent before the request's body has been read (a 413, a 401, a 415): the API reads and drops the rest of the
 * body, up to a bound, rather than close at once. A socket closed with the client's bytes unread is reset, and a
 * client that sends its whole body before it reads, as many do, would see the reset instead of the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { FastifyInstance } from 'fastify';

/** The most of a refused body the API reads to let its answer through; a client sending more is cut off. */
const DISCARD_LIMIT = 16 * 1024 * 1024;
/** How long the API waits for the rest of a refused body before it cuts the connection. */
const DISCARD_TIMEOUT_MS = 10_000;

/** Reads and drops the rest of `request`; past the bound or the timeout, cuts the connection. */
function discardRest(request: IncomingMessage): void {
  const cut = () => request.socket.destroy();
  const timer = setTimeout(cut, DISCARD_TIMEOUT_MS);
  finished(request, () => clearTimeout(timer));
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT) cut();
  });
  request.resume();
}

/** Reads and drops, up to a bound, the body of every request answered before its body was read. */
export function discardUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete) return;
    // Fastify closes the connection after a body it stopped reading: keep it, and read the rest once answered; a body
    // declared larger than the bound is not waited for.
    if (Number(request.headers['content-length'] ?? 0) > DISCARD_LIMIT) reply.header('connection', 'close');
    else reply.removeHeader('connection');
  });
  // On the server rather than in a hook: the answer to a URL Fastify cannot route (a 414, a 400) runs no hooks, and is
  // sent before a listener after Fastify's would see the request. At 'prefinish': from 'finish' on, Node would drop the
  // body itself, unbounded and unseen.
  app.server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    response.once('prefinish', () => {
      if (!request.complete && response.getHeader('connection') !== 'close') discardRest(request);
    });
  });
}
