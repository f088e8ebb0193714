/** The HTTP API process (`refund-saga api`, `npm run api`) against the cluster `temporalConfig` points at. Needs API_TOKEN. */
import { Client, Connection } from '@temporalio/client';
import { apiConfig, ConfigError, logConfig, temporalConfig, type TemporalFlags } from '../config';
import { createLogger } from '../logging';
import type { Tracing } from '../telemetry';
import { buildApi } from './server';

export async function runApi(flags: TemporalFlags = {}, tracing?: Tracing): Promise<void> {
  const settings = apiConfig();
  if (!settings.token)
    throw new ConfigError('API_TOKEN is required: the bearer token callers must send (16+ characters)');
  const logger = createLogger('api', logConfig());
  const temporal = temporalConfig(flags);
  const client = new Client({
    connection: await Connection.connect(temporal.connectionOptions),
    namespace: temporal.namespace,
    interceptors: tracing?.clientInterceptors,
  });
  const api = buildApi({
    client,
    token: settings.token,
    webhookSecret: settings.webhookSecret,
    bodyLimit: settings.bodyLimit,
    taskQueue: temporal.taskQueue,
    logger,
  });
  const url = await api.listen({ port: settings.port, host: settings.host });
  logger.info({ url }, `refund API on ${url} (OpenAPI at ${url}/openapi.json, docs at ${url}/docs)`);
  const stop = () =>
    void api
      .close()
      .then(() => tracing?.shutdown())
      .then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
