/**
 * The one place that reads `process.env`. Each reader parses with zod and fails fast, naming the variable.
 */
import { z } from 'zod';

/** Raised for a missing or malformed environment variable; the message names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
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

/** Provider endpoints and keys of the worker; defaults point at the local sandboxes with their dev keys. */
export function providerConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      CIRCLE_BASE_URL: url('http://127.0.0.1:4101'),
      CIRCLE_API_KEY: z.string().min(1).default('circle-sandbox-key'),
      STRIPE_BASE_URL: url('http://127.0.0.1:4102'),
      STRIPE_SECRET_KEY: z.string().min(1).default('sk_test_sandbox'),
      SQUAKE_BASE_URL: url('http://127.0.0.1:4103'),
      SQUAKE_TOKEN: z.string().min(1).default('squake-sandbox-token'),
      ONECLICKIMPACT_BASE_URL: url('http://127.0.0.1:4104'),
      ONECLICKIMPACT_API_KEY: z.string().min(1).default('1clickimpact-sandbox-key'),
      RECON_BASE_URL: url('http://127.0.0.1:4105'),
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

/** Worker settings besides the Temporal connection, which `@temporalio/envconfig` reads. */
export function workerConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      TEMPORAL_TASK_QUEUE: z.string().min(1).default('refunds'),
      /** Prometheus endpoint of the worker's runtime; `0` turns it off. */
      METRICS_PORT: port(9464),
      WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).default(40),
    }),
    env,
  );
  return {
    taskQueue: parsed.TEMPORAL_TASK_QUEUE,
    metricsPort: parsed.METRICS_PORT,
    maxConcurrentActivities: parsed.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTasks: parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
  };
}

/** HTTP API settings. */
export function apiConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(
    z.object({
      PORT: port(3000),
      API_HOST: z.string().default('127.0.0.1'),
      /** Bearer token callers must send; the dev stack makes one up and prints it when unset. */
      API_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
      /** Shared secret the Circle webhook must carry in `X-Webhook-Secret`. */
      CIRCLE_WEBHOOK_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
      API_BODY_LIMIT_BYTES: z.coerce
        .number()
        .int()
        .min(1024)
        .default(64 * 1024),
    }),
    env,
  );
  return {
    port: parsed.PORT,
    host: parsed.API_HOST,
    token: parsed.API_TOKEN,
    webhookSecret: parsed.CIRCLE_WEBHOOK_SECRET,
    bodyLimit: parsed.API_BODY_LIMIT_BYTES,
  };
}
