/**
 * The API's one error shape, `{ error: { code, message, issues? } }`, for every failure: a refusal by a handler, a
 * request that fails its route's schema, one of Fastify's own (a body too large, malformed JSON), and a bug, whose
 * stack stays in the logs.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { FieldIssue } from '../domain';
import type { ErrorEnvelope } from './response-schemas';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a caller whose body fails the route's schema is told; the issues go alongside. @default 'invalid body' */
    invalidBody?: string | ((issues: FieldIssue[]) => string);
  }
}

/** Answers with the error shape. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  issues?: FieldIssue[],
): FastifyReply {
  const body: ErrorEnvelope = { error: { code, message, ...(issues && { issues }) } };
  return reply.code(status).send(body);
}

/** The 404 of a URL no route serves. */
export function routeNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url}`);
}

/** The envelope's code for a status with a name of its own; any other 4xx is a `bad_request`. */
const CODE_OF_STATUS: Partial<Record<number, string>> = {
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** Fastify's refusals whose own words say too little ("Unsupported Media Type"), or copy back the caller's whole URL. */
const MESSAGE_OF_FASTIFY_CODE: Partial<Record<string, string>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send the body as Content-Type: application/json',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is too long',
};

/** Every error a route throws, or Fastify raises for it, in the error shape. */
export function apiErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const part = error.validationContext ?? 'body';
    const issues = error.validation.map((v) => ({ path: fieldPath(v.instancePath, part), message: v.message ?? '' }));
    return sendError(reply, 400, 'invalid_request', invalidMessage(part, issues, request), issues);
  }
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status === 500) {
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 500, 'internal', 'internal error; see the API logs');
  }
  const message = MESSAGE_OF_FASTIFY_CODE[error.code] ?? error.message;
  return sendError(reply, status, CODE_OF_STATUS[status] ?? 'bad_request', message);
}

/** `amount.value`, `orderIds.3` or `(root)`, as the client's errors name fields; a header as it is usually written. */
function fieldPath(instancePath: string, part: string): string {
  const segments = instancePath.split('/').filter(Boolean);
  if (!segments.length) return '(root)';
  if (part === 'headers') segments[0] = segments[0]!.replace(/(^|-)[a-z]/g, (start) => start.toUpperCase());
  return segments.join('.');
}

/** The message of a request that fails its schema: as each route answered when it checked its input by hand. */
function invalidMessage(part: string, issues: FieldIssue[], request: FastifyRequest): string {
  if (part === 'body') {
    const invalid = request.routeOptions.config.invalidBody ?? 'invalid body';
    return typeof invalid === 'function' ? invalid(issues) : invalid;
  }
  if (part === 'querystring') return 'invalid query';
  // A path parameter or a header: named, as in "invalid orderId" or "invalid Idempotency-Key".
  return `invalid ${[...new Set(issues.map((i) => i.path.split('.')[0]))].join(', ')}`;
}
