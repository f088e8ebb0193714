/**
 * The saga's worker: builds the provider clients once from the config, creates the activities, and polls the
 * `refunds` task queue. Connects with `@temporalio/envconfig` (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API-key
 * variables, or a TOML profile), serves Prometheus metrics, and shuts down gracefully on SIGINT/SIGTERM.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { ConfigError, providerConfig, workerConfig } from './config';
import { CircleClient, type CircleClientConfig } from './providers/circle/client';
import { ImpactReconClient, type ImpactReconClientConfig } from './providers/impact-recon/client';
import { OneClickImpactClient, type OneClickImpactClientConfig } from './providers/one-click-impact/client';
import { SquakeClient, type SquakeClientConfig } from './providers/squake/client';
import { StripeClimateClient, type StripeClimateClientConfig } from './providers/stripe-climate/client';

/** The provider clients, built once per worker. */
export function buildClients(config: {
  circle: CircleClientConfig;
  stripeClimate: StripeClimateClientConfig;
  squake: SquakeClientConfig;
  oneClickImpact: OneClickImpactClientConfig;
  impactRecon: ImpactReconClientConfig;
}): ActivityDeps {
  return {
    circle: new CircleClient(config.circle),
    stripeClimate: new StripeClimateClient(config.stripeClimate),
    squake: new SquakeClient(config.squake),
    oneClickImpact: new OneClickImpactClient(config.oneClickImpact),
    impactRecon: new ImpactReconClient(config.impactRecon),
  };
}

/** Worker options shared by the entry point, the dev stack and the tests (which pass a pre-built `workflowBundle`). */
export function sagaWorkerOptions(
  deps: ActivityDeps,
  overrides: Partial<WorkerOptions> & Pick<WorkerOptions, 'taskQueue'>,
): WorkerOptions {
  return {
    ...(!overrides.workflowBundle && { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities(deps),
    ...overrides,
  };
}

async function main() {
  const settings = workerConfig();
  const providers = providerConfig();
  Runtime.install({
    logger: new DefaultLogger('INFO'),
    telemetryOptions: settings.metricsPort
      ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${settings.metricsPort}` } } }
      : undefined,
  });
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  if (providers.usesSandboxDefaults) {
    console.warn(
      'some provider URLs are unset and point at the local sandboxes; set *_BASE_URL and keys for production',
    );
  }
  const worker = await Worker.create(
    sagaWorkerOptions(buildClients(providers), {
      connection,
      namespace: namespace ?? 'default',
      taskQueue: settings.taskQueue,
      maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
      shutdownGraceTime: '10s',
    }),
  );
  console.log(
    `worker polling task queue "${settings.taskQueue}" on ${connectionOptions.address ?? 'localhost:7233'} (namespace ${namespace ?? 'default'})` +
      (settings.metricsPort ? `; metrics on :${settings.metricsPort}/metrics` : ''),
  );
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling, lets running tasks finish, then resolves.
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
