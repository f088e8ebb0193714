/**
 * The API's side of {@link Authenticator}: every request of a scope must carry `Authorization: Bearer <credential>`
 * (401 otherwise); the principal goes on the request, and a route's `config.permission` is checked against its role
 * (403). Each identity gets its own rate limit (429).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { may, PERMISSIONS, type Authenticator, type Permission, type Principal } from './auth';
import { sendError } from './errors';
import { bearerToken } from './secrets';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, once its scope's authentication passed. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** What a caller's role must allow for the route. */
    permission?: Permission;
  }
}

const DOING: Record<Permission, string> = {
  start: 'start refunds',
  read: 'read refunds',
  override: 'send overrides',
  decode: 'decode payloads',
};

/** The principal of a request behind {@link authenticateRequests}. */
export function principalOf(request: { principal?: Principal }): Principal {
  if (!request.principal) throw new Error('no principal: the route is not behind authenticateRequests');
  return request.principal;
}

/** Authenticates every request of `api`'s scope, checks each route's permission, and limits each identity's rate. */
export async function authenticateRequests(
  api: FastifyInstance,
  authenticator: Authenticator,
  perMinute: number,
): Promise<void> {
  api.decorateRequest('principal', undefined);
  api.addHook('onRequest', async (request, reply) => {
    const credential = bearerToken(request.headers.authorization);
    const principal = credential ? await authenticator.authenticate(credential) : undefined;
    if (!principal) return sendError(reply, 401, 'unauthorized', 'send Authorization: Bearer <token>');
    request.principal = principal;
    const permission = request.routeOptions.config?.permission;
    if (permission && !may(principal.role, permission)) {
      const roles = PERMISSIONS[permission].join(' or ');
      return sendError(
        reply,
        403,
        'forbidden',
        `the ${principal.role} role may not ${DOING[permission]}; ${roles} may`,
      );
    }
  });
  await limitPerIdentity(api, perMinute);
}

/** Limits each identity of `api`'s scope to `perMinute` requests (429 past it), once its principal is known. */
export async function limitPerIdentity(api: FastifyInstance, perMinute: number): Promise<void> {
  await api.register(rateLimit, {
    // After authentication: the limit is the identity's, and a caller without a credential never counts against one.
    hook: 'preHandler',
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `identity:${request.principal?.identity ?? request.ip}`,
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`over ${context.max} requests a minute for this identity; retry in ${context.after}`), {
        statusCode: 429,
      }),
  });
}
