/**
 * The operator console at `/console`: server-rendered pages (Eta templates, htmx for the queue's self-refresh) on the
 * API's own client, so every override goes the way the API's do, recorded as the signed-in person's and vouched for to
 * the worker. Signed in with the session cookie of `/sign-in`; every form carries a CSRF token.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import {
  CARBON_PROVIDER_FILTERS,
  getRefundStatus,
  listRefunds,
  OverrideRejectedError,
  sendOverride,
  sendOverrides,
  STEP_FILTERS,
} from '../client';
import {
  ERROR_TYPES,
  InvalidRequestError,
  OVERRIDE_ACTIONS,
  OrderIdSchema,
  STEPS,
  toFieldIssues,
  type FieldIssue,
} from '../domain';
import { may, type Authenticator, type Principal } from '../api/auth';
import { limitPerIdentity } from '../api/auth-hook';
import { endSession, requestPrincipal, startSession } from '../api/session';
import { completedRefunds, financeCsv, financeRange, financeTotals } from './finance';
import { blockOf, fittingOverrides } from './fitting-overrides';
import * as fmt from './format';
import { timelineOf } from './timeline';

/** Options of {@link consoleRoutes}. */
export interface ConsoleOptions {
  /** The API's client: overrides go through its interceptors (vouching) and payloads through its codec. */
  client: Client;
  authenticator: Authenticator;
  rateLimitPerMinute: number;
  /** The Temporal Web UI, for each refund's "open the run" link; no link without it. */
  temporalUiUrl?: string;
}

/** Roles the console lets in: operators act, finance reads. */
const CONSOLE_ROLES = ['operator', 'finance'] as const;
/** Seconds between the queue's refreshes. */
export const QUEUE_REFRESH_SECONDS = 10;

const eta = new Eta({ views: join(__dirname, 'views'), autoEscape: true, cache: true });
const htmx = readFileSync(require.resolve('htmx.org/dist/htmx.min.js'), 'utf8');
const ASSETS: Record<string, { type: string; body: string }> = {
  'htmx.min.js': { type: 'text/javascript', body: htmx },
  'console.js': { type: 'text/javascript', body: readFileSync(join(__dirname, 'assets', 'console.js'), 'utf8') },
  'console.css': { type: 'text/css', body: readFileSync(join(__dirname, 'assets', 'console.css'), 'utf8') },
};

/** No inline script or style, no framing, forms post only here. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A console page open without signing in (the sign-in page itself, the assets). */
    public?: boolean;
  }
}

const QueueQuery = z.strictObject({
  step: z
    .enum(STEP_FILTERS)
    .optional()
    .or(z.literal('').transform(() => undefined)),
  errorType: z
    .enum(ERROR_TYPES)
    .optional()
    .or(z.literal('').transform(() => undefined)),
  carbonProvider: z
    .enum(CARBON_PROVIDER_FILTERS)
    .optional()
    .or(z.literal('').transform(() => undefined)),
  pageToken: z.string().optional(),
});

/** A form's text field: absent when empty. */
const field = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v : undefined));

const OverrideForm = z.looseObject({
  action: z.enum(OVERRIDE_ACTIONS, { error: `must be one of ${OVERRIDE_ACTIONS.join(', ')}` }),
  step: field,
  reason: field,
  evidence: field,
  duration: field,
  /** Set when the form was drawn: sending the same form twice applies it once. */
  overrideId: field,
});

const BulkForm = OverrideForm.extend({
  orderIds: z
    .union([z.string(), z.array(z.string())], { error: 'select at least one refund' })
    .transform((v) => (Array.isArray(v) ? v : [v])),
});

/** The override a form describes, as the caller's own. */
const overrideOf = (form: z.output<typeof OverrideForm>, caller: Principal) => ({
  action: form.action,
  operator: caller.identity,
  ...(form.step && form.action !== 'confirmRecon' && form.action !== 'abort' && { step: form.step }),
  ...(form.reason !== undefined && { reason: form.reason }),
  ...(form.evidence && { evidence: form.evidence }),
  ...(form.duration && { duration: form.duration }),
});

const issuesText = (issues: readonly FieldIssue[]) => issues.map((i) => `${i.path}: ${i.message}`).join('; ');

/** The console's routes, under the prefix the caller gives (`/console`). */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const { client } = options;
  // Browser pages: kept out of the OpenAPI document the order service reads.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, {
    cookieKey: 'refund_saga_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/console', secure: 'auto' },
  });
  app.decorateRequest('principal', undefined);
  const checkCsrf: preHandlerHookHandler = (request, reply, done) => app.csrfProtection(request, reply, done);

  app.addHook('onSend', async (_request, reply) => {
    void reply.header('content-security-policy', CSP);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'same-origin');
    // Pages show money and personal data: no shared cache keeps them.
    if (!reply.getHeader('cache-control')) void reply.header('cache-control', 'no-store');
  });

  const page = (reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(eta.render(`./${view}`, { principal: undefined, fmt, csrf: reply.generateCsrf(), ...data }));

  const errorPage = (request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string) =>
    page(reply, 'error', { title, message, status, principal: request.principal, requestId: request.id }, status);

  // Signed in (cookie, or a bearer credential for scripts), with a role the console serves; a browser without a
  // session is sent to sign in and brought back.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.public) return;
    const principal = await requestPrincipal(request, options.authenticator);
    if (!principal) {
      if (request.method === 'GET') {
        return reply.redirect(`/console/sign-in?next=${encodeURIComponent(request.url)}`, 303);
      }
      return errorPage(request, reply, 401, 'Signed out', 'Your session has ended: sign in again, then resend.');
    }
    request.principal = principal;
    if (!(CONSOLE_ROLES as readonly string[]).includes(principal.role)) {
      return errorPage(
        request,
        reply,
        403,
        'Not for this role',
        `The console is for operators and finance; ${principal.identity} signed in as ${principal.role}.`,
      );
    }
    const permission = request.routeOptions.config?.permission;
    if (permission && !may(principal.role, permission)) {
      return errorPage(request, reply, 403, 'Not allowed', `The ${principal.role} role may not do this.`);
    }
  });
  await limitPerIdentity(app, options.rateLimitPerMinute);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'console error');
      return errorPage(request, reply, 500, 'Something went wrong', 'Try again; if it keeps failing, tell the team.');
    }
    // CSRF refusals: a form from a page drawn before the session, or from elsewhere.
    const message = /csrf/i.test(error.code ?? '')
      ? 'This form is out of date or was not sent from the console: reload the page and send it again.'
      : error.message;
    return errorPage(request, reply, status, 'Request refused', message);
  });
  app.setNotFoundHandler((request, reply) => errorPage(request, reply, 404, 'Not found', `Nothing at ${request.url}.`));

  app.get<{ Params: { name: string } }>('/assets/:name', { config: { public: true } }, (request, reply) => {
    const asset = ASSETS[request.params.name];
    if (!asset) return errorPage(request, reply, 404, 'Not found', 'No such asset.');
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  // Sign-in: the same credential as the API's, turned into the session cookie.
  app.get<{ Querystring: { next?: string } }>('/sign-in', { config: { public: true } }, async (request, reply) => {
    return page(reply, 'sign-in', { next: safeNext(request.query.next) });
  });
  app.post<{ Body: { credential?: string; next?: string } }>(
    '/sign-in',
    { config: { public: true }, preHandler: checkCsrf },
    async (request, reply) => {
      const principal = request.body?.credential
        ? await options.authenticator.authenticate(request.body.credential.trim())
        : undefined;
      const next = safeNext(request.body?.next);
      if (!principal) {
        return page(reply, 'sign-in', { next, error: 'That credential is not known here.' }, 401);
      }
      startSession(reply, principal);
      return reply.redirect(next, 303);
    },
  );
  app.post('/sign-out', { preHandler: checkCsrf }, async (_request, reply) =>
    endSession(reply).redirect('/console/sign-in', 303),
  );

  // The queue: refunds that need attention, why, and since when.
  const readQueue = async (request: FastifyRequest) => {
    const query = QueueQuery.safeParse(request.query);
    if (!query.success) {
      throw Object.assign(new Error(`invalid filter: ${issuesText(toFieldIssues(query.error))}`), { statusCode: 400 });
    }
    const filters = query.data;
    const list = await listRefunds(client, {
      status: 'needs_attention',
      step: filters.step,
      errorType: filters.errorType,
      carbonProvider: filters.carbonProvider,
      pageToken: filters.pageToken,
      pageSize: 100,
    }).catch((err: unknown) => {
      if (err instanceof InvalidRequestError) throw Object.assign(err, { statusCode: 400 });
      throw err;
    });
    const search = new URLSearchParams();
    for (const key of ['step', 'errorType', 'carbonProvider'] as const) {
      if (filters[key]) search.set(key, filters[key]);
    }
    return { filters, list, search: search.toString(), now: Date.now(), refreshedAt: new Date().toISOString() };
  };
  const queueView = { steps: STEPS, errorTypes: ERROR_TYPES, carbonProviders: CARBON_PROVIDER_FILTERS };

  app.get('/', { config: { permission: 'read' } }, async (request, reply) =>
    page(reply, 'queue', {
      ...(await readQueue(request)),
      ...queueView,
      principal: request.principal,
      batchId: randomUUID(),
      refreshSeconds: QUEUE_REFRESH_SECONDS,
      canOverride: may(request.principal!.role, 'override'),
    }),
  );
  // The rows alone, for the page's refresh.
  app.get('/queue-rows', { config: { permission: 'read' } }, async (request, reply) =>
    page(reply, 'queue-rows', {
      ...(await readQueue(request)),
      fragment: true,
      refreshSeconds: QUEUE_REFRESH_SECONDS,
      principal: request.principal,
      canOverride: may(request.principal!.role, 'override'),
    }),
  );

  // A refund's page: why it is stuck, what fits, what happened.
  const refundPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    orderId: string,
    extra: { error?: string; form?: Record<string, unknown>; done?: string } = {},
    status = 200,
  ) => {
    if (!OrderIdSchema.safeParse(orderId).success) {
      return errorPage(
        request,
        reply,
        404,
        'No such refund',
        'That is not an order id: 1-64 of A-Z, a-z, 0-9, _ and -.',
      );
    }
    let view;
    try {
      view = await getRefundStatus(client, orderId);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        return errorPage(request, reply, 404, 'No such refund', `No refund saga for order ${orderId}.`);
      }
      // The saga answers its status from its worker: without one running, it cannot.
      request.log.warn({ err, orderId }, 'status query failed');
      return errorPage(
        request,
        reply,
        503,
        'The refund did not answer',
        `Refund ${orderId} did not answer its status query (${(err as Error).message}). Its worker may be down or ` +
          'overloaded: check the workers, then reload. Its history is in the Temporal UI meanwhile.',
      );
    }
    const workflowId = `refund-${orderId}`;
    const timeline = await timelineOf(
      await client.workflow.getHandle(workflowId).fetchHistory(),
      client.options.loadedDataConverter,
    );
    const ended = ['completed', 'aborted', 'terminated', 'failed', 'timed_out', 'canceled'].includes(view.status);
    return page(
      reply,
      'refund',
      {
        view,
        block: blockOf(view),
        fitting: fittingOverrides(view),
        timeline,
        ended,
        principal: request.principal,
        canOverride: may(request.principal!.role, 'override'),
        overrideId: randomUUID(),
        temporalUrl:
          options.temporalUiUrl &&
          `${options.temporalUiUrl}/namespaces/${encodeURIComponent(client.options.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
        now: Date.now(),
        ...extra,
      },
      status,
    );
  };

  app.get<{ Params: { orderId: string }; Querystring: { done?: string } }>(
    '/refunds/:orderId',
    { config: { permission: 'read' } },
    async (request, reply) => {
      const { done } = request.query;
      return refundPage(request, reply, request.params.orderId, {
        done: typeof done === 'string' && (OVERRIDE_ACTIONS as readonly string[]).includes(done) ? done : undefined,
      });
    },
  );

  app.post<{ Params: { orderId: string }; Body: Record<string, unknown> }>(
    '/refunds/:orderId/overrides',
    { config: { permission: 'override' }, preHandler: checkCsrf },
    async (request, reply) => {
      const { orderId } = request.params;
      const form = OverrideForm.safeParse(request.body);
      const again = (error: string, status: number) =>
        refundPage(request, reply, orderId, { error, form: request.body }, status);
      if (!form.success) return again(issuesText(toFieldIssues(form.error)), 400);
      try {
        await sendOverride(client, orderId, overrideOf(form.data, request.principal!), { id: form.data.overrideId });
      } catch (err) {
        if (err instanceof InvalidRequestError) return again(issuesText(err.issues), 400);
        if (err instanceof OverrideRejectedError) return again(`The saga refused it: ${err.message}`, 409);
        if (err instanceof WorkflowNotFoundError) {
          return errorPage(request, reply, 404, 'No such refund', `No refund saga for order ${orderId}.`);
        }
        throw err;
      }
      // Post/redirect/get: reloading the page never sends the override again.
      return reply.redirect(`/console/refunds/${encodeURIComponent(orderId)}?done=${form.data.action}`, 303);
    },
  );

  // Bulk: one override to the selected refunds, through the batch API's own function, with a report per refund.
  app.post<{ Body: Record<string, unknown> }>(
    '/bulk',
    { config: { permission: 'override' }, preHandler: checkCsrf },
    async (request, reply) => {
      const form = BulkForm.safeParse(request.body);
      if (!form.success) {
        return errorPage(request, reply, 400, 'Nothing was sent', issuesText(toFieldIssues(form.error)));
      }
      const override = overrideOf(form.data, request.principal!);
      let report;
      try {
        report = await sendOverrides(client, { orderIds: form.data.orderIds }, override, {
          dryRun: false,
          id: form.data.overrideId,
        });
      } catch (err) {
        if (!(err instanceof InvalidRequestError)) throw err;
        return errorPage(request, reply, 400, 'Nothing was sent', issuesText(err.issues));
      }
      return page(reply, 'bulk-report', { report, override, principal: request.principal });
    },
  );

  // Finance: completed refunds over a range, their totals, and the CSV.
  const readFinance = async (request: FastifyRequest) => {
    let range;
    try {
      range = financeRange(request.query);
    } catch (err) {
      if (err instanceof InvalidRequestError) {
        throw Object.assign(new Error(`invalid range: ${issuesText(err.issues)}`), { statusCode: 400 });
      }
      throw err;
    }
    return { range, ...(await completedRefunds(client, range)) };
  };
  app.get('/finance', { config: { permission: 'read' } }, async (request, reply) => {
    const finance = await readFinance(request);
    return page(reply, 'finance', { ...finance, totals: financeTotals(finance.rows), principal: request.principal });
  });
  app.get('/finance.csv', { config: { permission: 'read' } }, async (request, reply) => {
    const { range, rows, capped } = await readFinance(request);
    if (capped) void reply.header('x-refunds-capped', 'true');
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="refunds-${range.from}-to-${range.to}.csv"`)
      .send(financeCsv(rows));
  });
}

/** Where to go after signing in: a console page only, never another site. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/console(\/|\?|$)/.test(next) && !next.includes('//') ? next : '/console';
}
