/**
 * Temporal's remote codec protocol, for the Temporal Web UI and CLI (`--codec-endpoint <api>/codec`): `POST
 * /codec/encode` and `POST /codec/decode` take and answer `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`
 * and run them through the payload codec. Whoever calls must be authenticated (401) with an allowed role (403), as
 * decoding shows what history holds; browsers may call from the configured origins only (CORS, with credentials).
 */
import fastifyCors from '@fastify/cors';
import type { PayloadCodec } from '@temporalio/common';
import { JSONToPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createLogger, type Logger } from '../logging';
import { PayloadDecryptionError } from '../security/codec';
import { apiErrorHandler, routeNotFound, sendError } from './errors';
import { readJsonBodiesOnly } from './json-body';
import { ErrorEnvelope, json } from './response-schemas';

/** Who called, as the authentication option answers. */
export interface CodecCaller {
  identity: string;
  role: string;
}

/** Options of {@link codecRoutes}. */
export interface CodecRoutesOptions {
  /** The codec payloads go through: the workers' and clients' (`PayloadEncryptionCodec`). */
  codec: PayloadCodec;
  /** Who sent the request (from its `Authorization` header, say); undefined when nobody known. */
  authenticate: (request: FastifyRequest) => Promise<CodecCaller | undefined>;
  /** The roles that may encode and decode. */
  allowedRoles: readonly string[];
  /** Browser origins allowed to call (the Temporal UI's, e.g. `http://localhost:8233`). @default none */
  corsOrigins?: readonly string[];
  /** Largest request body: a batch of payloads, each up to Temporal's 2 MiB, in base64. @default 4 MiB */
  bodyLimit?: number;
}

/** The headers the Temporal UI sends to a codec server. */
const ALLOWED_HEADERS = ['Content-Type', 'X-Namespace', 'Authorization'];

const base64 = z.base64({ error: 'must be base64' });

/** A payload in its JSON form, as the Temporal UI and CLI send it: every byte string in base64. */
const JsonPayload = z.object({
  metadata: z.record(z.string(), base64).nullish(),
  data: base64.nullish(),
});

/** The body and the answer of both routes. */
const CodecBody = z.object({ payloads: z.array(JsonPayload) }).meta({ id: 'CodecPayloads' });

/** `X-Namespace`: the namespace whose payloads these are; any is fine (one set of keys serves them all). */
const CodecHeaders = z.object({ 'x-namespace': z.string().max(255).optional() });

/** `POST /codec/encode` and `POST /codec/decode`, behind authentication and CORS. */
export const codecRoutes: FastifyPluginAsyncZod<CodecRoutesOptions> = async (app, options) => {
  const { codec, authenticate, allowedRoles } = options;
  const origins = new Set(options.corsOrigins ?? []);

  await app.register(
    async (plain) => {
      const scope = plain.withTypeProvider<ZodTypeProvider>();
      // Self-contained wherever it is registered: the API's error shape and zod schemas, in this scope only.
      scope.setValidatorCompiler(validatorCompiler);
      scope.setSerializerCompiler(serializerCompiler);
      scope.setErrorHandler(apiErrorHandler);
      // Its hook runs first and answers preflights itself: a browser sends them without credentials.
      await scope.register(fastifyCors, {
        // `false` for any other origin: no CORS header at all, and its preflight is not served.
        origin: (origin, callback) => callback(null, origin !== undefined && origins.has(origin) ? origin : false),
        credentials: true,
        methods: ['POST'],
        allowedHeaders: ALLOWED_HEADERS,
        maxAge: 600,
      });

      scope.addHook('onRequest', async (request, reply) => {
        if (request.method === 'OPTIONS') return;
        const caller = await authenticate(request);
        if (!caller) return sendError(reply, 401, 'unauthorized', 'send Authorization: Bearer <token>');
        if (!allowedRoles.includes(caller.role))
          return sendError(
            reply,
            403,
            'forbidden',
            `the ${caller.role} role may not encode or decode payloads; ${allowedRoles.join(' or ') || 'no role'} may`,
          );
        request.log.info(
          // Logged as a field (escaped by the logger), never echoed to the caller.
          { identity: caller.identity, role: caller.role, namespace: request.headers['x-namespace'] },
          `codec ${request.url.endsWith('/decode') ? 'decode' : 'encode'}`,
        );
      });

      const schema = (what: string) => ({
        hide: true,
        headers: CodecHeaders,
        body: CodecBody,
        response: {
          200: json(CodecBody, what),
          400: json(ErrorEnvelope, 'Not payloads, or a payload this server cannot decode'),
          401: json(ErrorEnvelope, 'No credential, or an unknown one'),
          403: json(ErrorEnvelope, 'The role may not use the codec'),
        },
      });
      const routeOptions = (what: string) => ({
        schema: schema(what),
        bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
        config: { invalidBody: 'expected { payloads: [{ metadata: { <key>: <base64> }, data: <base64> }] }' },
      });

      scope.post('/encode', routeOptions('The payloads, encoded'), async (request) => ({
        payloads: (await codec.encode(request.body.payloads.map(JSONToPayload))).map(payloadToJSON),
      }));

      scope.post('/decode', routeOptions('The payloads, decoded'), async (request, reply) => {
        try {
          return { payloads: (await codec.decode(request.body.payloads.map(JSONToPayload))).map(payloadToJSON) };
        } catch (err) {
          // The message names the key id (quoted and escaped by the codec), never a key or a payload's bytes.
          if (err instanceof PayloadDecryptionError) return sendError(reply, 400, 'decode_failed', err.message);
          throw err;
        }
      });
    },
    { prefix: '/codec' },
  );
};

/** Options of {@link buildCodecServer}. */
export interface CodecServerOptions extends CodecRoutesOptions {
  /** @default a silent logger */
  logger?: Logger;
}

/** A server of the codec routes alone (a codec server of its own, and the tests): JSON bodies only, the API's errors. */
export function buildCodecServer(options: CodecServerOptions): FastifyInstance {
  const { logger, ...routes } = options;
  const loggerInstance: FastifyBaseLogger = logger ?? createLogger('codec', { level: 'silent', format: 'json' });
  const app = Fastify({ loggerInstance });
  readJsonBodiesOnly(app);
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler(routeNotFound);
  app.register(codecRoutes, routes);
  return app;
}
