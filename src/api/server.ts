/**
 * The HTTP API for the order service and operators (design.md, "HTTP API"): start a refund, read it, list refunds by
 * status from Temporal visibility, and send operator overrides, one saga at a time or in batches. Every route needs `Authorization: Bearer <token>`;
 * errors are `{ error: { code, message, issues? } }` and never carry a stack trace.
 */
import { timingSafeEqual } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  getRefundStatus,
  listRefunds,
  ListRefundsOptionsSchema,
  OverrideIdSchema,
  OverrideRejectedError,
  parseOverrideBatch,
  RequestConflictError,
  SagaEndedError,
  sendOverride,
  sendOverrides,
  startRefund,
  TASK_QUEUE,
  type StartRefundOptions,
} from '../client';
import {
  circleCancelSettledSignal,
  InvalidRequestError,
  OrderIdSchema,
  resolveSagaOptions,
  toFieldIssues,
  type FieldIssue,
} from '../domain';
import { openApiDocument } from './openapi';

/** Settings of the API server. */
export interface ApiOptions {
  client: Client;
  /** The bearer token callers must send. */
  token: string;
  /** @default 'refunds' */
  taskQueue?: string;
  /** Largest accepted request body. @default 64 KiB */
  bodyLimit?: number;
  /** Shared secret the Circle webhook must send in `X-Webhook-Secret`; without one the webhook route answers 503. */
  webhookSecret?: string;
  /** Options for the sagas this API starts (deadlines, polling). */
  startOptions?: Omit<StartRefundOptions, 'taskQueue'>;
}

/** The list's query string: the client's list options, with the page size read from text. */
const ListQuery = ListRefundsOptionsSchema.extend({
  pageSize: z.coerce.number().int().min(1, { error: 'must be 1-100' }).max(100, { error: 'must be 1-100' }).default(25),
});

function sendError(reply: FastifyReply, status: number, code: string, message: string, issues?: FieldIssue[]) {
  return reply.code(status).send({ error: { code, message, ...(issues && { issues }) } });
}

function secretMatches(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A batch names up to 1,000 order ids of up to 64 characters: more than the default body limit. */
const BATCH_BODY_LIMIT = 256 * 1024;

/** The `Idempotency-Key` header, checked: `undefined` when absent, issues naming the header when malformed. */
function idempotencyKey(header: string | string[] | undefined): { id?: string; issues?: FieldIssue[] } {
  if (header === undefined) return {};
  const parsed = OverrideIdSchema.safeParse(header);
  if (parsed.success) return { id: parsed.data };
  return { issues: toFieldIssues(parsed.error).map((i) => ({ ...i, path: 'Idempotency-Key' })) };
}

const bearer = (header: string | undefined) => (header?.startsWith('Bearer ') ? header.slice(7) : undefined);

/** The payment id of a Circle notification: a payment, or a cancel with its original payment. */
const CircleNotification = z.looseObject({
  notificationType: z.string().optional(),
  payment: z.looseObject({ id: z.string() }).optional(),
  cancel: z.looseObject({ originalPayment: z.looseObject({ id: z.string() }) }).optional(),
});

/** Builds the API; call `listen()` on the result, or `inject()` in tests. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { client } = options;
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  // Options for every saga are the API's own configuration: wrong ones fail here, not as a 400 to each caller.
  const sagaOptions = resolveSagaOptions(options.startOptions?.sagaOptions);
  if (!sagaOptions.ok) {
    const issues = toFieldIssues(sagaOptions.error).map((i) => `startOptions.sagaOptions.${i.path} ${i.message}`);
    throw new Error(`invalid API options: ${issues.join('; ')}`);
  }
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 64 * 1024, logger: false });

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) console.error(err);
    const code = status === 413 ? 'body_too_large' : status === 500 ? 'internal' : 'bad_request';
    return sendError(reply, status, code, status === 500 ? 'internal error; see the API logs' : err.message);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url}`),
  );

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/openapi.json' || request.url === '/healthz' || request.url === '/v1/webhooks/circle') return;
    if (!secretMatches(bearer(request.headers.authorization), options.token)) {
      return sendError(reply, 401, 'unauthorized', 'send Authorization: Bearer <token>');
    }
  });

  app.get('/healthz', () => ({ ok: true }));
  app.get('/openapi.json', () => openApiDocument);

  app.post('/v1/refunds', async (request, reply) => {
    try {
      const started = await startRefund(client, request.body, { ...options.startOptions, taskQueue });
      const { alreadyExisted, ...body } = started;
      return reply.code(alreadyExisted ? 200 : 202).send(body);
    } catch (err) {
      if (err instanceof InvalidRequestError) return sendError(reply, 400, 'invalid_request', err.message, err.issues);
      if (err instanceof RequestConflictError) {
        const issues = err.fields.map((path) => ({ path, message: 'differs from the request that started this saga' }));
        return sendError(reply, 409, 'request_conflict', err.message, issues);
      }
      throw err;
    }
  });

  app.get<{ Params: { orderId: string } }>('/v1/refunds/:orderId', async (request, reply) => {
    const orderId = OrderIdSchema.safeParse(request.params.orderId);
    if (!orderId.success)
      return sendError(reply, 400, 'invalid_request', 'invalid orderId', prefixed(orderId.error, 'orderId'));
    try {
      return await getRefundStatus(client, orderId.data);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        return sendError(reply, 404, 'not_found', `no refund for order ${orderId.data}`);
      throw err;
    }
  });

  app.get('/v1/refunds', async (request, reply) => {
    const query = ListQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, 'invalid_request', 'invalid query', toFieldIssues(query.error));
    try {
      return await listRefunds(client, query.data);
    } catch (err) {
      if (err instanceof InvalidRequestError)
        return sendError(reply, 400, 'invalid_request', 'invalid query', err.issues);
      throw err;
    }
  });

  app.post('/v1/refunds/overrides::batch', { bodyLimit: BATCH_BODY_LIMIT }, async (request, reply) => {
    const key = idempotencyKey(request.headers['idempotency-key']);
    if (key.issues) return sendError(reply, 400, 'invalid_request', 'invalid Idempotency-Key', key.issues);
    try {
      const { target, override, dryRun, concurrency } = parseOverrideBatch(request.body);
      return await sendOverrides(client, target, override, { dryRun, concurrency, id: key.id });
    } catch (err) {
      if (err instanceof InvalidRequestError)
        return sendError(reply, 400, 'invalid_request', 'invalid batch', err.issues);
      throw err;
    }
  });

  app.post<{ Params: { orderId: string } }>('/v1/refunds/:orderId/overrides', async (request, reply) => {
    const orderId = OrderIdSchema.safeParse(request.params.orderId);
    if (!orderId.success)
      return sendError(reply, 400, 'invalid_request', 'invalid orderId', prefixed(orderId.error, 'orderId'));
    const key = idempotencyKey(request.headers['idempotency-key']);
    if (key.issues) return sendError(reply, 400, 'invalid_request', 'invalid Idempotency-Key', key.issues);
    try {
      return await sendOverride(client, orderId.data, request.body, { id: key.id });
    } catch (err) {
      if (err instanceof InvalidRequestError)
        return sendError(reply, 400, 'invalid_request', 'invalid override', err.issues);
      if (err instanceof SagaEndedError) return sendError(reply, 409, 'saga_ended', err.message);
      if (err instanceof OverrideRejectedError) return sendError(reply, 409, 'override_rejected', err.message);
      if (err instanceof WorkflowNotFoundError)
        return sendError(reply, 404, 'not_found', `no refund for order ${orderId.data}`);
      throw err;
    }
  });

  app.post('/v1/webhooks/circle', async (request, reply) => {
    if (!options.webhookSecret)
      return sendError(reply, 503, 'not_configured', 'set CIRCLE_WEBHOOK_SECRET to accept Circle notifications');
    const secret = request.headers['x-webhook-secret'];
    if (!secretMatches(typeof secret === 'string' ? secret : undefined, options.webhookSecret)) {
      return sendError(reply, 401, 'unauthorized', 'missing or wrong X-Webhook-Secret');
    }
    const notification = CircleNotification.safeParse(request.body);
    const paymentId = notification.success
      ? (notification.data.payment?.id ?? notification.data.cancel?.originalPayment.id)
      : undefined;
    if (!paymentId || !/^[0-9a-f-]{36}$/i.test(paymentId)) {
      return sendError(
        reply,
        400,
        'invalid_request',
        'expected a Circle notification with payment.id or cancel.originalPayment.id',
      );
    }
    const found = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: `WorkflowType = 'refundSaga' AND CirclePaymentId = '${paymentId}' AND ExecutionStatus = 'Running'`,
      pageSize: 1,
    });
    const workflowId = found.executions?.[0]?.execution?.workflowId;
    if (!workflowId) return sendError(reply, 404, 'not_found', `no running refund for Circle payment ${paymentId}`);
    await client.workflow.getHandle(workflowId).signal(circleCancelSettledSignal, { paymentId });
    return { signalled: workflowId };
  });

  return app;
}

function prefixed(error: z.ZodError, field: string): FieldIssue[] {
  return toFieldIssues(error).map((i) => ({ ...i, path: i.path === '(root)' ? field : `${field}.${i.path}` }));
}
