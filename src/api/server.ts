/**
 * The HTTP API for the order service and operators (docs/design.md, "HTTP API"). The routes' zod schemas validate requests,
 * serialize responses and make the OpenAPI document at `/openapi.json` (browsable at `/docs`). Errors are
 * `{ error: { code, message, issues? } }` and never carry a stack trace; every response carries a `request-id`, which
 * the logs of its request carry too.
 */
import { randomBytes } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StartRefundOptions } from '../client';
import { packageVersion } from '../config';
import { resolveSagaOptions, TASK_QUEUE, toFieldIssues } from '../domain';
import { createLogger, type Logger } from '../logging';
import { PERMISSIONS, type Authenticator } from './auth';
import { circleWebhook } from './circle-webhook';
import { apiErrorHandler, routeNotFound } from './errors';
import { answerClientError, HTTP_SERVER_OPTIONS, refuseMalformedHttp } from './http-refusals';
import { readJsonBodiesOnly } from './json-body';
import { refundRoutes } from './refund-routes';
import { registerCookies, requestPrincipal, sessionRoutes } from './session';
import { codecRoutes } from './codec-routes';
import { consoleRoutes } from '../console/routes';
import { REQUEST_ID_HEADER, requestId } from './request-id';
import { discardUnreadBodies } from './unread-bodies';

/** Settings of the API server. */
export interface ApiOptions {
  client: Client;
  /** Who each bearer credential is, and its role (`authenticatorFrom`, `hashedTokens`, `jwtAuthenticator`). */
  authenticator: Authenticator;
  /** Requests a minute each identity may make. @default 1200 */
  rateLimitPerMinute?: number;
  /**
   * The codec server (`POST /codec/encode`, `/codec/decode`) for the Temporal UI: the payload codec of the workers and
   * clients, and the browser origins that may call it. Operators and finance, by bearer credential or session cookie.
   */
  codec?: { codec: PayloadCodec; corsOrigins: readonly string[] };
  /** Signs browser session cookies (`/sign-in`); 32+ characters. @default random: sessions end when the API restarts */
  sessionSecret?: string;
  /** @default 'refunds' */
  taskQueue?: string;
  /** Largest accepted request body. @default 64 KiB */
  bodyLimit?: number;
  /**
   * The secret Circle's notifications are signed with (several while rotating: any one verifies); without one the
   * webhook route answers 503.
   */
  webhookSecret?: string | readonly string[];
  /** Options for the sagas this API starts (deadlines, polling). */
  startOptions?: Omit<StartRefundOptions, 'taskQueue'>;
  /** The Temporal Web UI the console links each refund's run to. @default no link */
  temporalUiUrl?: string;
  /** Where requests and errors are logged, each line with its request id. @default a silent logger */
  logger?: Logger;
}

/** Builds the API; call `listen()` on the result, or `inject()` in tests. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const rateLimitPerMinute = options.rateLimitPerMinute ?? 1200;
  // Options for every saga are the API's own configuration: wrong ones fail here, not as a 400 to each caller.
  const sagaOptions = resolveSagaOptions(options.startOptions?.sagaOptions);
  if (!sagaOptions.ok) {
    const issues = toFieldIssues(sagaOptions.error).map((i) => `startOptions.sagaOptions.${i.path} ${i.message}`);
    throw new Error(`invalid API options: ${issues.join('; ')}`);
  }
  const logger: FastifyBaseLogger = options.logger ?? createLogger('api', { level: 'silent', format: 'json' });
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    loggerInstance: logger,
    // Fastify would take the header's value unchecked; `requestId` checks it (Fastify logs the id as `reqId`).
    requestIdHeader: false,
    genReqId: requestId,
    // A URL Fastify cannot route (bad percent-encoding, an over-long parameter) is refused before any hook runs.
    frameworkErrors: (error, request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      void apiErrorHandler(error, request, reply);
    },
    // What Node's parser refuses, or Node would answer itself, gets the envelope too.
    clientErrorHandler: answerClientError(logger),
    http: HTTP_SERVER_OPTIONS,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler(routeNotFound);
  readJsonBodiesOnly(app);
  discardUnreadBodies(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  refuseMalformedHttp(app);

  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'refund-saga', version: packageVersion(), description: 'Start, follow and steer refund sagas.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/healthz', { schema: { hide: true, response: { 200: z.object({ ok: z.literal(true) }) } } }, () => ({
    ok: true,
  }));

  registerCookies(app, options.sessionSecret ?? randomBytes(32).toString('base64url'));
  app.register(sessionRoutes, { authenticator: options.authenticator, rateLimitPerMinute });
  if (options.codec) {
    const { authenticator } = options;
    app.register(codecRoutes, {
      codec: options.codec.codec,
      corsOrigins: options.codec.corsOrigins,
      authenticate: (request) => requestPrincipal(request, authenticator),
      allowedRoles: PERMISSIONS.decode,
    });
  }
  app.register(refundRoutes, {
    prefix: '/v1',
    client: options.client,
    authenticator: options.authenticator,
    rateLimitPerMinute,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    startOptions: options.startOptions,
  });
  app.register(consoleRoutes, {
    prefix: '/console',
    client: options.client,
    authenticator: options.authenticator,
    rateLimitPerMinute,
    temporalUiUrl: options.temporalUiUrl,
  });
  app.register(circleWebhook, { prefix: '/v1', client: options.client, secret: options.webhookSecret });
  return app;
}
