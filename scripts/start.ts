/**
 * `npm start`: the local stack in one command — a Temporal dev server with its Web UI (SQLite under `.temporal/`, so
 * state survives restarts; search attributes registered), the five provider sandboxes, the saga's worker and the HTTP
 * API. With
 * TEMPORAL_ADDRESS set it uses that cluster instead of starting one. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { buildApi } from '../src/api/server';
import { apiConfig, ConfigError, providerConfig, sandboxConfig, workerConfig } from '../src/config';
import { REFUND_SEARCH_ATTRIBUTES } from '../src/domain';
import { startSandboxes } from '../src/stack/sandboxes';
import { registerSearchAttributes } from '../src/stack/search-attributes';
import { ensureTemporalCli } from '../src/stack/temporal-binaries';
import { buildClients, sagaWorkerOptions } from '../src/worker';

const log = (line: string) => console.log(`[stack] ${line}`);
const STATE_DIR = join(__dirname, '..', '.temporal');

async function startDevServer(): Promise<{ address: string; uiUrl: string; process: ChildProcess }> {
  const cli = await ensureTemporalCli((line) => log(line));
  if (!cli.path)
    throw new Error('no Temporal CLI available offline; install Go, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS');
  mkdirSync(STATE_DIR, { recursive: true });
  const port = Number(process.env.TEMPORAL_DEV_PORT ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(STATE_DIR, 'temporal.db'),
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--log-level',
    'warn',
  ];
  for (const key of REFUND_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${key.type === 'BOOL' ? 'Bool' : 'Keyword'}`);
  log(`starting the Temporal dev server (${cli.path})`);
  const child = spawn(cli.path, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the dev server exited with code ${child.exitCode}; is port ${port} or ${uiPort} taken?`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`the dev server did not answer on ${address} within 60 s: ${String(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return { address, uiUrl: `http://localhost:${uiPort}`, process: child };
}

/** A dev secret made up once and kept in `.temporal/`, so the printed token stays valid across restarts. */
function devSecret(name: string, prefix: string): string {
  mkdirSync(STATE_DIR, { recursive: true });
  const path = join(STATE_DIR, name);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = `${prefix}${randomBytes(12).toString('hex')}`;
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}

async function main() {
  const settings = workerConfig();
  const sandboxSettings = sandboxConfig();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const started = Date.now();

  const external = process.env.TEMPORAL_ADDRESS;
  const dev = external ? undefined : await startDevServer();
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
  const address = dev?.address ?? connectionOptions.address ?? 'localhost:7233';
  const client = await Connection.connect({ ...connectionOptions, address });
  const added = await registerSearchAttributes(client, namespace);
  if (added.length) log(`registered search attributes ${added.join(', ')} on ${address}`);

  const sandboxes = await startSandboxes({
    ...sandboxSettings,
    stateDir: sandboxSettings.stateDir ?? join(STATE_DIR, 'sandboxes'),
  });
  const urls = sandboxes.urls;
  const providers = providerConfig({
    CIRCLE_BASE_URL: urls.circle,
    STRIPE_BASE_URL: urls.stripeClimate,
    SQUAKE_BASE_URL: urls.squake,
    ONECLICKIMPACT_BASE_URL: urls.oneClickImpact,
    RECON_BASE_URL: urls.impactRecon,
    ...process.env,
  });

  log('bundling workflows and starting the worker');
  const connection = await NativeConnection.connect({ ...connectionOptions, address });
  const worker = await Worker.create(
    sagaWorkerOptions(buildClients(providers), {
      connection,
      namespace,
      taskQueue: settings.taskQueue,
      shutdownGraceTime: '5s',
    }),
  );
  const running = worker.run();

  const apiSettings = apiConfig();
  const token = apiSettings.token ?? devSecret('api-token', 'dev_');
  const webhookSecret = apiSettings.webhookSecret ?? devSecret('circle-webhook-secret', 'whsec_');
  const api = buildApi({
    client: new Client({ connection: client, namespace }),
    token,
    webhookSecret,
    bodyLimit: apiSettings.bodyLimit,
    taskQueue: settings.taskQueue,
  });
  const apiUrl = await api.listen({ port: apiSettings.port, host: apiSettings.host });
  // The Circle sandbox tells the API when a cancel settles, as Circle's notifications would.
  sandboxes.circle.configure({ webhookUrl: `${apiUrl}/v1/webhooks/circle`, webhookSecret });

  const uiUrl = dev?.uiUrl ?? 'your cluster’s Web UI';
  console.log(`
  Refund saga stack is ready in ${((Date.now() - started) / 1000).toFixed(1)} s

  Temporal      ${address} (namespace ${namespace})${dev ? ', state in .temporal/temporal.db' : ''}
  Web UI        ${uiUrl}${dev ? `/namespaces/${namespace}/workflows` : ''}
  Task queue    ${settings.taskQueue}
  HTTP API      ${apiUrl}  (Authorization: Bearer ${token}; OpenAPI at /openapi.json)
  Webhook       ${apiUrl}/v1/webhooks/circle  (X-Webhook-Secret: ${webhookSecret})
  Sandboxes     Circle ${urls.circle}, Stripe ${urls.stripeClimate}, SQUAKE ${urls.squake},
                1ClickImpact ${urls.oneClickImpact}, recon ${urls.impactRecon}

  Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping: worker, sandboxes, Temporal');
    worker.shutdown();
    await running.catch(() => undefined);
    await Promise.all([api.close(), sandboxes.close(), connection.close(), client.close()]);
    dev?.process.kill('SIGTERM');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await running;
  await stop();
}

main().catch((err: unknown) => {
  console.error(`[stack] ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
