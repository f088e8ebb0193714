/** Request ids: every answer carries one in `request-id`, and the logs of its request carry the same. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header that names a request, sent back on every response. */
export const REQUEST_ID_HEADER = 'request-id';
/** What a caller's request id may be: short, and safe to copy into logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is a sane one, so both sides log the same id; a new UUID otherwise. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}
