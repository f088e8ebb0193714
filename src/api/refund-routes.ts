/**
 * The order service's and operators' routes (registered under `/v1`): start a refund, read it, list refunds by status
 * from Temporal visibility, and send operator overrides, one saga at a time or in batches. Every one needs
 * `Authorization: Bearer <credential>`, whose role must allow the route; an override's `operator` is the caller.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  getRefundStatus,
  listRefunds,
  OverrideRejectedError,
  parseOverrideBatch,
  RequestConflictError,
  SagaEndedError,
  sendOverride,
  sendOverrides,
  startRefund,
  type StartRefundOptions,
} from '../client';
import { InvalidRequestError } from '../domain';
import { routeNotFound, sendError } from './errors';
import {
  IdempotencyKeyHeaders,
  ListQuery,
  OrderIdParams,
  OverrideBatchBody,
  OverrideBody,
  RefundRequestBody,
} from './request-schemas';
import {
  ErrorEnvelope,
  json,
  OverridesReportSchema,
  RefundListPageSchema,
  SagaStatusViewSchema,
  StartedRefundSchema,
} from './response-schemas';
import type { Authenticator, Principal } from './auth';
import { authenticateRequests, principalOf } from './auth-hook';

/** Options of {@link refundRoutes}. */
export interface RefundRoutesOptions {
  client: Client;
  /** Who each credential is. */
  authenticator: Authenticator;
  /** Requests a minute per identity. */
  rateLimitPerMinute: number;
  taskQueue: string;
  /** Options for the sagas these routes start. */
  startOptions?: Omit<StartRefundOptions, 'taskQueue'>;
}

/** A batch names up to 1,000 order ids of up to 64 characters: more than the default body limit. */
const BATCH_BODY_LIMIT = 256 * 1024;

const notFound = (orderId: string) => `no refund for order ${orderId}`;

/**
 * The override as the caller's identity sends it: a body's `operator` may only repeat the identity, so the audit trail
 * names who acted. Undefined when the body names someone else.
 */
function asCaller<O extends { operator?: string }>(
  override: O,
  caller: Principal,
): (O & { operator: string }) | undefined {
  if (override.operator !== undefined && override.operator !== caller.identity) return undefined;
  return { ...override, operator: caller.identity };
}

const notTheCaller = (caller: Principal) =>
  `operator must be your own identity (${caller.identity}) or left out; overrides are recorded as their sender's`;

/** The refund routes, behind authentication. */
export const refundRoutes: FastifyPluginAsyncZod<RefundRoutesOptions> = async (api, options) => {
  const { client, taskQueue } = options;

  await authenticateRequests(api, options.authenticator, options.rateLimitPerMinute);
  // Authentication answers 401, 403 and 429 on every route here, and the body parser 413 and 415 on every route with
  // a body: documented once, where they happen.
  api.addHook('onRoute', (route) => {
    route.schema = {
      ...route.schema,
      response: {
        ...(route.schema?.response as object | undefined),
        401: json(ErrorEnvelope, 'Missing or unknown credential'),
        403: json(
          ErrorEnvelope,
          "`forbidden`: the caller's role may not use this route; `operator_mismatch`: an override names another operator",
        ),
        429: json(ErrorEnvelope, '`rate_limited`: too many requests from this identity; see `Retry-After`'),
        ...(route.schema?.body !== undefined && {
          413: json(ErrorEnvelope, '`body_too_large`: the body is over the limit; nothing was done'),
          415: json(
            ErrorEnvelope,
            '`unsupported_media_type`: the body is not `application/json` in UTF-8, or is compressed; nothing was done',
          ),
        }),
      },
    };
  });
  // An unknown URL under /v1 goes through the hook too: without the token it is a 401, as every route is.
  api.setNotFoundHandler(routeNotFound);

  api.post(
    '/refunds',
    {
      schema: {
        summary: 'Start the refund saga of an order (idempotent per orderId and request)',
        body: RefundRequestBody,
        response: {
          202: json(StartedRefundSchema, 'Started'),
          200: json(
            StartedRefundSchema,
            'The saga already existed, started with the same request; nothing new was started',
          ),
          400: json(ErrorEnvelope, 'Invalid request; `issues` names every bad field; nothing was started'),
          409: json(
            ErrorEnvelope,
            "`request_conflict`: the order's saga was started with a different request; `issues` names each " +
              'differing field; nothing was changed',
          ),
        },
      },
      config: { permission: 'start', invalidBody: (issues) => new InvalidRequestError(issues).message },
    },
    async (request, reply) => {
      try {
        const { alreadyExisted, ...started } = await startRefund(client, request.body, {
          ...options.startOptions,
          taskQueue,
        });
        return await reply.code(alreadyExisted ? 200 : 202).send(started);
      } catch (err) {
        if (!(err instanceof RequestConflictError)) throw err;
        const issues = err.fields.map((path) => ({ path, message: 'differs from the request that started this saga' }));
        return sendError(reply, 409, 'request_conflict', err.message, issues);
      }
    },
  );

  api.get(
    '/refunds/:orderId',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'The saga status of one order',
        params: OrderIdParams,
        response: {
          200: json(SagaStatusViewSchema, 'The saga status'),
          400: json(ErrorEnvelope, 'Malformed orderId'),
          404: json(ErrorEnvelope, 'No refund for this order'),
        },
      },
    },
    async (request, reply) => {
      const { orderId } = request.params;
      try {
        return await getRefundStatus(client, orderId);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return sendError(reply, 404, 'not_found', notFound(orderId));
        throw err;
      }
    },
  );

  api.get(
    '/refunds',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'List refunds from Temporal visibility',
        querystring: ListQuery,
        response: {
          200: json(RefundListPageSchema, 'A page of refunds'),
          400: json(ErrorEnvelope, 'Invalid filter or page token; `issues` names the parameter'),
        },
      },
    },
    async (request, reply) => {
      try {
        return await listRefunds(client, request.query);
      } catch (err) {
        // A page token that is not one, or a query Temporal refuses.
        if (err instanceof InvalidRequestError) {
          return sendError(reply, 400, 'invalid_request', 'invalid query', err.issues);
        }
        throw err;
      }
    },
  );

  api.post(
    '/refunds/:orderId/overrides',
    {
      schema: {
        summary: 'Send an operator override',
        params: OrderIdParams,
        headers: IdempotencyKeyHeaders,
        body: OverrideBody,
        response: {
          200: json(SagaStatusViewSchema, 'Accepted; the new saga status'),
          400: json(ErrorEnvelope, 'Invalid override, orderId or Idempotency-Key; `issues` names the field'),
          404: json(ErrorEnvelope, 'No refund for this order: it never had a saga'),
          409: json(
            ErrorEnvelope,
            "`override_rejected`: refused by the saga's validator, with its reason; `saga_ended`: the saga has " +
              'ended (`the saga has ended (completed)`, `aborted`, `terminated`, …)',
          ),
        },
      },
      config: { permission: 'override', invalidBody: 'invalid override' },
    },
    async (request, reply) => {
      const { orderId } = request.params;
      const caller = principalOf(request);
      const override = asCaller(request.body, caller);
      if (!override) return sendError(reply, 403, 'operator_mismatch', notTheCaller(caller));
      try {
        return await sendOverride(client, orderId, override, { id: request.headers['idempotency-key'] });
      } catch (err) {
        if (err instanceof SagaEndedError) return sendError(reply, 409, 'saga_ended', err.message);
        if (err instanceof OverrideRejectedError) return sendError(reply, 409, 'override_rejected', err.message);
        if (err instanceof WorkflowNotFoundError) return sendError(reply, 404, 'not_found', notFound(orderId));
        throw err;
      }
    },
  );
  api.post(
    '/refunds/overrides::batch',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        summary: 'Send one override to many sagas (a dry run unless `dryRun: false`)',
        headers: IdempotencyKeyHeaders,
        body: OverrideBatchBody,
        response: {
          200: json(OverridesReportSchema, 'The sagas matched; for a real run, what each did and the counts'),
          400: json(
            ErrorEnvelope,
            'Invalid batch, or a `where` query Temporal refuses; `issues` names each field (`where`, `orderIds.3`, ' +
              '`override.reason`, `concurrency`, `Idempotency-Key`)',
          ),
        },
      },
      config: { permission: 'override', invalidBody: 'invalid batch' },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const asSent = asCaller(request.body.override, caller);
      if (!asSent) return sendError(reply, 403, 'operator_mismatch', notTheCaller(caller));
      try {
        const { target, override, dryRun, concurrency } = parseOverrideBatch({ ...request.body, override: asSent });
        const id = request.headers['idempotency-key'];
        return await sendOverrides(client, target, override, { dryRun, concurrency, id });
      } catch (err) {
        if (err instanceof InvalidRequestError) {
          return sendError(reply, 400, 'invalid_request', 'invalid batch', err.issues);
        }
        throw err;
      }
    },
  );
};
