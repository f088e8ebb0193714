/** `npm run api`: the HTTP API against the cluster `@temporalio/envconfig` points at. Needs API_TOKEN. */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { apiConfig, ConfigError, workerConfig } from '../config';
import { buildApi } from './server';

async function main() {
  const settings = apiConfig();
  if (!settings.token)
    throw new ConfigError('API_TOKEN is required: the bearer token callers must send (16+ characters)');
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const client = new Client({ connection: await Connection.connect(connectionOptions), namespace });
  const api = buildApi({
    client,
    token: settings.token,
    webhookSecret: settings.webhookSecret,
    bodyLimit: settings.bodyLimit,
    taskQueue: workerConfig().taskQueue,
  });
  const url = await api.listen({ port: settings.port, host: settings.host });
  console.log(`refund API on ${url} (OpenAPI at ${url}/openapi.json)`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
