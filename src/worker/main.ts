/**
 * The worker process (`refund-saga worker`, `npm run worker`): connects through `temporalConfig`, polls the saga's
 * task queue as a Worker Deployment Version, encrypts every payload it writes to history (PAYLOAD_KEYS or
 * PAYLOAD_KEYS_FILE; it refuses to start without them unless PAYLOAD_ENCRYPTION=off), serves Prometheus metrics on
 * loopback, logs through pino, and shuts down gracefully on SIGINT/SIGTERM.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { logConfig, providerConfig, temporalConfig, workerConfig, type TemporalFlags } from '../config';
import { createLogger, temporalLogger, type Logger } from '../logging';
import { requirePayloadEncryption } from '../security/keys';
import type { Tracing } from '../telemetry';
import { buildClients, sagaWorkerOptions, workerTuning, type SagaWorkerVersion } from './index';
import { currentBuildId, setCurrentCommand } from './versioning';

export async function runWorker(flags: TemporalFlags = {}, tracing?: Tracing): Promise<void> {
  const settings = workerConfig();
  const providers = providerConfig();
  const temporal = temporalConfig(flags);
  const encryption = requirePayloadEncryption('the worker');
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
  if (encryption.off) {
    log.warn('PAYLOAD_ENCRYPTION=off: workflow history holds refund requests and operator notes in plaintext');
  }
  const worker = await Worker.create(
    sagaWorkerOptions(
      buildClients(providers),
      {
        connection,
        namespace: temporal.namespace,
        taskQueue: temporal.taskQueue,
        dataConverter: encryption.dataConverter,
        ...workerTuning(settings),
      },
      { version: settings.versioning, tracing },
    ),
  );
  log.info(
    {
      address: temporal.connectionOptions.address,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      version: settings.versioning ?? 'unversioned',
      payloadKey: encryption.off ? 'off (plaintext)' : encryption.currentKeyId,
      metrics: settings.metrics ? `http://${settings.metrics.host}:${settings.metrics.port}/metrics` : 'off',
    },
    'worker polling',
  );
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling, lets running tasks finish, then resolves.
  const running = worker.run();
  if (settings.versioning) void reportRouting(connection, temporal.namespace, settings.versioning, log);
  await running;
  await Promise.all([connection.close(), tracing?.shutdown()]);
}

/** Says, once the worker has polled, whether new sagas come to this version, and how to make them. */
async function reportRouting(
  connection: NativeConnection,
  namespace: string,
  version: SagaWorkerVersion,
  log: Logger,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 3000).unref());
  try {
    const current = await currentBuildId(connection.workflowService, namespace, version.deploymentName);
    if (current === version.buildId) log.info({ version }, 'this version is current: new sagas start here');
    else
      log.warn(
        { version, current: current ?? 'none' },
        `new sagas go to ${current ? `build ${current}` : 'no version yet, and wait'}; sagas pinned to this build run here. ` +
          `To send new sagas here: ${setCurrentCommand(version)}`,
      );
  } catch (err) {
    log.warn({ err }, 'could not read the worker deployment’s current version');
  }
}
