/**
 * The one place that reads `process.env`. Each reader parses with zod and fails fast, naming the variable. The
 * Temporal connection of every process (worker, API, CLI, stack, demo) comes from `temporalConfig`, over
 * `@temporalio/envconfig`; every other setting from the readers below.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { TASK_QUEUE } from './domain/task-queue';

/** Raised for a missing or malformed environment variable; the message names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${i.path.map(String).join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`,
  );
  throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
}

const port = (fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(0, { error: 'must be a port number' })
    .max(65535, { error: 'must be a port number' })
    .default(fallback);

/** Ports and persistence of the five sandboxes (`npm run sandboxes`). */
export function sandboxConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      CIRCLE_SANDBOX_PORT: port(4101),
      STRIPE_SANDBOX_PORT: port(4102),
      SQUAKE_SANDBOX_PORT: port(4103),
      ONECLICKIMPACT_SANDBOX_PORT: port(4104),
      RECON_SANDBOX_PORT: port(4105),
      SANDBOX_HOST: z.string().default('127.0.0.1'),
      /** Directory for the sandboxes' JSON state files; unset means in memory only. */
      SANDBOX_STATE_DIR: z.string().optional(),
    }),
    env,
  );
  return {
    host: parsed.SANDBOX_HOST,
    stateDir: parsed.SANDBOX_STATE_DIR,
    ports: {
      circle: parsed.CIRCLE_SANDBOX_PORT,
      stripeClimate: parsed.STRIPE_SANDBOX_PORT,
      squake: parsed.SQUAKE_SANDBOX_PORT,
      oneClickImpact: parsed.ONECLICKIMPACT_SANDBOX_PORT,
      impactRecon: parsed.RECON_SANDBOX_PORT,
    },
  };
}
export type SandboxConfig = ReturnType<typeof sandboxConfig>;

const url = (fallback: string) =>
  z.string().url({ error: 'must be a URL such as http://127.0.0.1:4101' }).default(fallback);

/**
 * Provider endpoints and keys of the worker; defaults point at the local sandboxes with their dev keys (at
 * `sandboxUrls` when given: the dev stack's, on the ports it picked).
 */
export function providerConfig(
  sandboxUrls?: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>,
  env: NodeJS.ProcessEnv = process.env,
) {
  const parsed = parseEnv(
    z.object({
      CIRCLE_BASE_URL: url(sandboxUrls?.circle ?? 'http://127.0.0.1:4101'),
      CIRCLE_API_KEY: z.string().min(1).default('circle-sandbox-key'),
      STRIPE_BASE_URL: url(sandboxUrls?.stripeClimate ?? 'http://127.0.0.1:4102'),
      STRIPE_SECRET_KEY: z.string().min(1).default('sk_test_sandbox'),
      SQUAKE_BASE_URL: url(sandboxUrls?.squake ?? 'http://127.0.0.1:4103'),
      SQUAKE_TOKEN: z.string().min(1).default('squake-sandbox-token'),
      ONECLICKIMPACT_BASE_URL: url(sandboxUrls?.oneClickImpact ?? 'http://127.0.0.1:4104'),
      ONECLICKIMPACT_API_KEY: z.string().min(1).default('1clickimpact-sandbox-key'),
      RECON_BASE_URL: url(sandboxUrls?.impactRecon ?? 'http://127.0.0.1:4105'),
      RECON_API_KEY: z.string().min(1).default('recon-sandbox-key'),
      PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100, { error: 'must be at least 100' }).default(10_000),
    }),
    env,
  );
  const timeoutMs = parsed.PROVIDER_TIMEOUT_MS;
  return {
    circle: { baseUrl: parsed.CIRCLE_BASE_URL, apiKey: parsed.CIRCLE_API_KEY, timeoutMs },
    stripeClimate: { baseUrl: parsed.STRIPE_BASE_URL, secretKey: parsed.STRIPE_SECRET_KEY, timeoutMs },
    squake: { baseUrl: parsed.SQUAKE_BASE_URL, token: parsed.SQUAKE_TOKEN, timeoutMs },
    oneClickImpact: { baseUrl: parsed.ONECLICKIMPACT_BASE_URL, apiKey: parsed.ONECLICKIMPACT_API_KEY, timeoutMs },
    impactRecon: { baseUrl: parsed.RECON_BASE_URL, apiKey: parsed.RECON_API_KEY, timeoutMs },
    /** True when any provider still uses a sandbox default, which a production worker must not. */
    usesSandboxDefaults: [
      'CIRCLE_BASE_URL',
      'STRIPE_BASE_URL',
      'SQUAKE_BASE_URL',
      'ONECLICKIMPACT_BASE_URL',
      'RECON_BASE_URL',
    ].some((k) => !env[k]),
  };
}
export type ProviderConfig = ReturnType<typeof providerConfig>;

/** The version in the package's `package.json` (one level above both `src/` and `dist/`). */
export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return version;
}

/** Where a process finds Temporal; flags (the CLI's `--address`, `--namespace`, `--profile`) win over the rest. */
export interface TemporalFlags {
  address?: string;
  namespace?: string;
  /** A profile of the envconfig TOML file (`TEMPORAL_PROFILE` otherwise, else `default`). */
  profile?: string;
  /** The envconfig TOML file (`TEMPORAL_CONFIG_FILE` otherwise, else the platform's default path). */
  configFile?: string;
}

export interface TemporalSettings {
  /** For `Connection.connect` and `NativeConnection.connect`; `address` is always set. */
  connectionOptions: ClientConnectConfig['connectionOptions'] & { address: string };
  namespace: string;
  taskQueue: string;
  /** True when the address came from a flag, a profile or the environment rather than the local default. */
  configured: boolean;
}

/**
 * The Temporal connection, namespace and task queue, from `@temporalio/envconfig` (a TOML profile, then the
 * TEMPORAL_* variables over it: address, namespace, API key, TLS, gRPC metadata), then the flags.
 */
export function temporalConfig(flags: TemporalFlags = {}, env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const envVars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  let loaded: ClientConnectConfig;
  try {
    loaded = loadClientConnectConfig({
      profile: flags.profile,
      configSource: flags.configFile ? { path: flags.configFile } : undefined,
      overrideEnvVars: envVars,
    });
  } catch (err) {
    const where = flags.profile ?? env.TEMPORAL_PROFILE;
    throw new ConfigError(
      `cannot read the Temporal client configuration${where ? ` (profile "${where}")` : ''}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const address = flags.address ?? loaded.connectionOptions.address;
  const { TEMPORAL_TASK_QUEUE } = parseEnv(
    z.object({ TEMPORAL_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE) }),
    env,
  );
  return {
    connectionOptions: { ...loaded.connectionOptions, address: address ?? '127.0.0.1:7233' },
    namespace: flags.namespace ?? loaded.namespace ?? 'default',
    taskQueue: TEMPORAL_TASK_QUEUE,
    configured: Boolean(address),
  };
}

/** Worker settings besides the Temporal connection. */
export function workerConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      /** Prometheus endpoint of the worker's runtime; `0` turns it off. */
      METRICS_PORT: port(9464),
      /** Interface the metrics endpoint binds; loopback unless set (e.g. `0.0.0.0` for a scraper elsewhere). */
      METRICS_HOST: z.string().min(1).default('127.0.0.1'),
      WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).default(40),
      /**
       * How long a saga's workflow task waits for the worker that ran its last one (which holds it in cache) before any
       * worker takes it. Short, so a killed worker's sagas move on in seconds; the SDK's default is 10 s.
       */
      WORKER_STICKY_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(500).max(60_000).default(3000),
      /**
       * How many sagas the worker keeps in memory between their workflow tasks (~2-4 MiB each in the TS SDK, within the
       * worker's 512 MiB heap: `WORKER_NODE_OPTIONS`). Sagas
       * spend days waiting on timers, so the cache holds the active ones, and a waiting saga evicted from it replays its
       * history when it wakes (tens of milliseconds: see the benchmark); the SDK's default grows with the heap (2,310 on
       * this 24 GiB machine) and runs a worker out of memory long before that many sagas wait.
       */
      WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(100),
      /** Worker Deployment Versioning: `on` pins each saga to the build that started it; `off` for servers without it. */
      WORKER_VERSIONING: z.enum(['on', 'off'], { error: 'must be "on" or "off"' }).default('on'),
      WORKER_DEPLOYMENT_NAME: z.string().min(1).default('refund-saga'),
      /** The build id of this worker's version; the package version unless set. */
      WORKER_BUILD_ID: z
        .string()
        .regex(/^[\w.+-]{1,255}$/, { error: 'must be letters, digits, ".", "_", "+" or "-"' })
        .optional(),
    }),
    env,
  );
  return {
    versioning:
      parsed.WORKER_VERSIONING === 'on'
        ? { deploymentName: parsed.WORKER_DEPLOYMENT_NAME, buildId: parsed.WORKER_BUILD_ID ?? packageVersion() }
        : undefined,
    metrics: parsed.METRICS_PORT ? { host: parsed.METRICS_HOST, port: parsed.METRICS_PORT } : undefined,
    maxConcurrentActivities: parsed.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTasks: parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    stickyQueueTimeoutMs: parsed.WORKER_STICKY_QUEUE_TIMEOUT_MS,
    maxCachedWorkflows: parsed.WORKER_MAX_CACHED_WORKFLOWS,
  };
}

/** HTTP API settings. */
export function apiConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      PORT: port(3000),
      API_HOST: z.string().default('127.0.0.1'),
      /** A JSON file of credentials: `{ credentials: [{ identity, role, tokenSha256 }] }` (see the README). */
      API_CREDENTIALS_FILE: z.string().min(1).optional(),
      /** A JWKS file: OIDC JWTs signed by its keys are credentials too (with API_JWT_ISSUER and API_JWT_AUDIENCE). */
      API_JWKS_FILE: z.string().min(1).optional(),
      API_JWT_ISSUER: z.string().min(1).optional(),
      API_JWT_AUDIENCE: z.string().min(1).optional(),
      /** The JWT claim that names the caller's role. */
      API_JWT_ROLE_CLAIM: z.string().min(1).default('refund_saga_role'),
      /** One bearer token, for a single caller: its identity and role are API_TOKEN_IDENTITY and API_TOKEN_ROLE. */
      API_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
      API_TOKEN_IDENTITY: z.string().trim().min(1).max(100).default('order-service'),
      API_TOKEN_ROLE: z
        .enum(['order-service', 'operator', 'finance'], { error: 'must be order-service, operator or finance' })
        .default('order-service'),
      /** Signs browser session cookies (`/sign-in`); unset: a random one, so sessions end when the API restarts. */
      API_SESSION_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
      /** Requests per minute each identity may make (429 past it). */
      API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
      /** Shared secret the Circle webhook must carry in `X-Webhook-Secret`. */
      /** Signs Circle's notifications; comma-separated while rotating (any one verifies). */
      CIRCLE_WEBHOOK_SECRET: z
        .string()
        .transform((v) => v.split(',').map((s) => s.trim()))
        .pipe(z.array(z.string().min(16, { error: 'each secret must be at least 16 characters' })))
        .optional(),
      /** Browser origins that may call the codec server (`/codec`): the Temporal UI's, comma-separated. */
      CODEC_CORS_ORIGINS: z
        .string()
        .default('')
        .transform((v) =>
          v
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.url({ error: 'must be an origin such as https://temporal.example.com' }))),
      /** The Temporal Web UI, for the console's link to each refund's run. */
      TEMPORAL_UI_URL: z.url({ error: 'must be a URL such as https://temporal.example.com' }).optional(),
      API_BODY_LIMIT_BYTES: z.coerce
        .number()
        .int()
        .min(1024)
        .default(64 * 1024),
    }),
    env,
  );
  if (parsed.API_JWKS_FILE && (!parsed.API_JWT_ISSUER || !parsed.API_JWT_AUDIENCE))
    throw new ConfigError('invalid environment: API_JWKS_FILE needs API_JWT_ISSUER and API_JWT_AUDIENCE');
  return {
    port: parsed.PORT,
    host: parsed.API_HOST,
    credentialsFile: parsed.API_CREDENTIALS_FILE,
    jwt: parsed.API_JWKS_FILE
      ? {
          jwksFile: parsed.API_JWKS_FILE,
          issuer: parsed.API_JWT_ISSUER!,
          audience: parsed.API_JWT_AUDIENCE!,
          roleClaim: parsed.API_JWT_ROLE_CLAIM,
        }
      : undefined,
    token: parsed.API_TOKEN
      ? { token: parsed.API_TOKEN, identity: parsed.API_TOKEN_IDENTITY, role: parsed.API_TOKEN_ROLE }
      : undefined,
    rateLimitPerMinute: parsed.API_RATE_LIMIT_PER_MINUTE,
    sessionSecret: parsed.API_SESSION_SECRET,
    codecCorsOrigins: parsed.CODEC_CORS_ORIGINS,
    webhookSecret: parsed.CIRCLE_WEBHOOK_SECRET,
    bodyLimit: parsed.API_BODY_LIMIT_BYTES,
    temporalUiUrl: parsed.TEMPORAL_UI_URL?.replace(/\/+$/, ''),
  };
}

/** Logging of every process: pino, JSON lines unless `LOG_FORMAT=pretty` (the dev stack's default). */
export function logConfig(defaults: { format?: 'json' | 'pretty' } = {}, env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      LOG_FORMAT: z.enum(['json', 'pretty']).default(defaults.format ?? 'json'),
    }),
    env,
  );
  return { level: parsed.LOG_LEVEL, format: parsed.LOG_FORMAT };
}
export type LogConfig = ReturnType<typeof logConfig>;

/** The local dev stack (`npm start`, `refund-saga stack`) and the demo that runs against it. */
export function stackConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      TEMPORAL_DEV_PORT: port(7233),
      TEMPORAL_UI_PORT: port(8233),
      /** The Web UI the demo links to; the dev server's unless set. */
      TEMPORAL_UI_URL: z.string().url({ error: 'must be a URL such as http://localhost:8233' }).optional(),
      /** Where the dev server's SQLite file, the sandboxes' state and the dev secrets live. */
      STACK_STATE_DIR: z.string().min(1).default('.temporal'),
    }),
    env,
  );
  return {
    devPort: parsed.TEMPORAL_DEV_PORT,
    uiPort: parsed.TEMPORAL_UI_PORT,
    uiUrl: parsed.TEMPORAL_UI_URL ?? `http://localhost:${parsed.TEMPORAL_UI_PORT}`,
    stateDir: resolve(parsed.STACK_STATE_DIR),
  };
}

/** Tracing: OpenTelemetry over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, off otherwise. */
export function telemetryConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url({ error: 'must be a URL such as http://127.0.0.1:4318' }).optional(),
      OTEL_SERVICE_NAME: z.string().min(1).optional(),
    }),
    env,
  );
  return parsed.OTEL_EXPORTER_OTLP_ENDPOINT
    ? { endpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''), serviceName: parsed.OTEL_SERVICE_NAME }
    : undefined;
}

/** Where the operator CLI sends overrides: the HTTP API, with the operator's own credential, when both are set. */
export function cliApiConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      /** The API the CLI sends overrides through (it vouches for them); unset: straight to Temporal. */
      REFUND_SAGA_API_URL: z.string().url({ error: 'must be a URL such as http://127.0.0.1:3000' }).optional(),
      /** The operator's own API credential. */
      REFUND_SAGA_TOKEN: z.string().min(1).optional(),
    }),
    env,
  );
  if (!parsed.REFUND_SAGA_API_URL) return undefined;
  if (!parsed.REFUND_SAGA_TOKEN)
    throw new ConfigError('REFUND_SAGA_API_URL is set but REFUND_SAGA_TOKEN is not: set your own API credential');
  return { url: parsed.REFUND_SAGA_API_URL.replace(/\/+$/, ''), token: parsed.REFUND_SAGA_TOKEN };
}
