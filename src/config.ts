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
