/**
 * The worker process (`refund-saga worker`, `npm run worker`): connects through `temporalConfig`, polls the saga's
 * task queue as a Worker Deployment Version, serves Prometheus metrics on loopback, logs through pino, and shuts down
 * gracefully on SIGINT/SIGTERM.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { logConfig, providerConfig, temporalConfig, workerConfig, type TemporalFlags } from '../config';
import { createLogger, temporalLogger } from '../logging';
import { buildClients, sagaWorkerOptions } from './index';

export async function runWorker(flags: TemporalFlags = {}): Promise<void> {
  const settings = workerConfig();
  const providers = providerConfig();
  const temporal = temporalConfig(flags);
  const log = createLogger('worker', logConfig());
  Runtime.install({
    logger: temporalLogger(log),
    telemetryOptions: settings.metrics
      ? { metrics: { prometheus: { bindAddress: `${settings.metrics.host}:${settings.metrics.port}` } } }
      : undefined,
  });
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  if (providers.usesSandboxDefaults) {
    log.warn('some provider URLs are unset and point at the local sandboxes; set *_BASE_URL and keys for production');
  }
  const worker = await Worker.create(
    sagaWorkerOptions(
      buildClients(providers),
      {
        connection,
        namespace: temporal.namespace,
        taskQueue: temporal.taskQueue,
        maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
        maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
        shutdownGraceTime: '10s',
      },
      settings.versioning,
    ),
  );
  log.info(
    {
      address: temporal.connectionOptions.address,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      version: settings.versioning ?? 'unversioned',
      metrics: settings.metrics ? `http://${settings.metrics.host}:${settings.metrics.port}/metrics` : 'off',
    },
    'worker polling',
  );
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling, lets running tasks finish, then resolves.
  await worker.run();
  await connection.close();
}
