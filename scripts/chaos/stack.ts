/**
 * The chaos suite's own stack, on ports it picks: a Temporal dev server (SQLite file, so it survives a restart) or a
 * self-hosted cluster (`--cluster`), the
 * sandboxes as a separate process with persistence, the API and worker processes running the compiled package — each
 * a process the suite can kill and start again. Payloads are encrypted with a key generated per run, so every
 * fault also runs through the payload codec.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { hashToken } from '../../src/api/auth';
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import { encryptedDataConverter } from '../../src/security/codec';
import { generatePayloadKey } from '../../src/security/keys';
import { ensureTemporalCli } from '../../src/stack/temporal-binaries';
import { WORKER_NODE_OPTIONS } from '../../src/worker';
import { startTemporalCluster, TEMPORAL_SERVER_VERSION } from './cluster';
import { freePort, Managed, sandboxesProcess, sleep } from './processes';

/** A way the Temporal server goes down and comes back after `downMs`. */
export interface ServerFault {
  name: string;
  inject(downMs: number): Promise<void>;
}

export interface ChaosStack {
  /** What the Temporal server is, for the report. */
  server: string;
  serverFaults: ServerFault[];
  sandboxes: Managed;
  api: Managed;
  workers: Managed[];
  address: string;
  apiUrl: string;
  /** The token of `ops@example.com`, an operator. */
  apiToken: string;
  /** The token of each of {@link CHAOS_OPERATORS}. */
  operatorTokens: Record<string, string>;
  sandboxUrls: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>;
  taskQueue: string;
  client: Client;
  close(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(url)).status < 500;
}

interface TemporalServer {
  address: string;
  server: string;
  faults: ServerFault[];
  close(): Promise<void>;
}

/** The dev server, with a database file so that it keeps its state across a restart. */
async function startDevServer(dir: string, log: (line: string) => void): Promise<TemporalServer> {
  const cli = await ensureTemporalCli(log);
  if (!cli.path) throw new Error('no Temporal CLI: install Go (see the README), or set TEMPORAL_CLI_PATH');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--headless', '--port', String(port)];
  args.push('--db-filename', join(dir, 'temporal.db'), '--log-level', 'error');
  for (const key of REFUND_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${key.type === 'BOOL' ? 'Bool' : 'Keyword'}`);
  const temporal = new Managed('temporal', cli.path, args, {}, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 500 });
    await connection.workflowService.getSystemInfo({});
    await connection.close();
    return true;
  });
  await temporal.start();
  const restart = (signal: NodeJS.Signals): ServerFault => ({
    name: `dev server ${signal}`,
    async inject(downMs) {
      await temporal.stop(signal);
      await sleep(downMs);
      await temporal.start();
    },
  });
  return {
    address,
    server: 'dev server (Temporal CLI 1.5.1, server 1.29.1, SQLite file)',
    faults: [restart('SIGTERM'), restart('SIGKILL')],
    close: () => temporal.stop(),
  };
}

/** A self-hosted cluster: four services as processes on PostgreSQL (`./cluster`). */
async function startCluster(dir: string, log: (line: string) => void): Promise<TemporalServer> {
  // The suite's own directory (mkdtemp makes it private): PostgreSQL runs as its own user and must pass through it.
  chmodSync(dir, 0o711);
  const cluster = await startTemporalCluster(join(dir, 'cluster'), REFUND_SEARCH_ATTRIBUTES, log);
  const restart = (signal: NodeJS.Signals): ServerFault => ({
    name: `all four services ${signal}`,
    async inject(downMs) {
      await cluster.stopAll(signal);
      await sleep(downMs);
      await cluster.startAll();
    },
  });
  return {
    address: cluster.address,
    server: `self-hosted cluster (temporal-server ${TEMPORAL_SERVER_VERSION}: frontend, history, matching and worker processes on PostgreSQL)`,
    faults: [
      restart('SIGTERM'),
      { name: 'history service SIGKILL', inject: (downMs) => cluster.killHistory(downMs) },
      restart('SIGKILL'),
      { name: 'PostgreSQL restart', inject: () => cluster.restartPostgres() },
    ],
    close: () => cluster.close(),
  };
}

/** The operators of the scenarios, each with a credential of their own. */
export const CHAOS_OPERATORS = [1, 2, 3, 4, 5]
  .map((n) => `chaos-op-${n}@example.com`)
  .concat('chaos-cleanup@example.com');

/**
 * Brings the stack up under `dir` (the Temporal server's data and the sandboxes' state): on the dev server, or with
 * `cluster` on a self-hosted cluster.
 */
export async function startChaosStack(
  dir: string,
  workerCount: number,
  log: (line: string) => void,
  { cluster = false } = {},
): Promise<ChaosStack> {
  mkdirSync(dir, { recursive: true });
  const temporal = cluster ? await startCluster(dir, log) : await startDevServer(dir, log);
  const { address } = temporal;
  const apiPort = await freePort();
  const { sandboxes, urls: sandboxUrls } = await sandboxesProcess(join(dir, 'sandboxes'));

  const taskQueue = 'refunds-chaos';
  const apiToken = `chaos_${Math.random().toString(36).slice(2)}_token`;
  // Each operator of the scenarios signs in as themselves: the API records the caller as the override's operator.
  const operatorTokens = Object.fromEntries(
    CHAOS_OPERATORS.map((identity) => [identity, `chaos_${Math.random().toString(36).slice(2)}_token`]),
  );
  const credentialsFile = join(dir, 'api-credentials.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({
      credentials: [
        { identity: 'ops@example.com', role: 'operator', tokenSha256: hashToken(apiToken) },
        ...Object.entries(operatorTokens).map(([identity, token]) => ({
          identity,
          role: 'operator',
          tokenSha256: hashToken(token),
        })),
      ],
    }),
    { mode: 0o600 },
  );
  const payloadKey = generatePayloadKey('chaos');
  const common = {
    PAYLOAD_ENCRYPTION: 'on',
    PAYLOAD_KEYS: `${payloadKey.id}:${payloadKey.key.toString('base64')}`,
    PAYLOAD_KEYS_FILE: '',
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    WORKER_VERSIONING: 'off',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    CIRCLE_BASE_URL: sandboxUrls.circle,
    STRIPE_BASE_URL: sandboxUrls.stripeClimate,
    SQUAKE_BASE_URL: sandboxUrls.squake,
    ONECLICKIMPACT_BASE_URL: sandboxUrls.oneClickImpact,
    RECON_BASE_URL: sandboxUrls.impactRecon,
    PROVIDER_TIMEOUT_MS: '3000',
  };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = new Managed(
    'api',
    process.execPath,
    ['dist/bin.js', 'api'],
    {
      ...common,
      API_CREDENTIALS_FILE: credentialsFile,
      CIRCLE_WEBHOOK_SECRET: `whsec_${apiToken}`,
      PORT: String(apiPort),
    },
    () => answers(`${apiUrl}/healthz`),
  );
  const workers = Array.from(
    { length: workerCount },
    (_, i) =>
      new Managed(
        `worker-${i + 1}`,
        process.execPath,
        [...WORKER_NODE_OPTIONS, 'dist/bin.js', 'worker'],
        { ...common, LOG_LEVEL: 'info' },
        /worker polling/,
      ),
  );

  await sandboxes.start();
  await Promise.all([api.start(), ...workers.map((w) => w.start())]);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: encryptedDataConverter([payloadKey]) });
  return {
    server: temporal.server,
    serverFaults: temporal.faults,
    sandboxes,
    api,
    workers,
    address,
    apiUrl,
    apiToken,
    operatorTokens,
    sandboxUrls,
    taskQueue,
    client,
    async close() {
      await connection.close();
      await Promise.all([api, ...workers].map((p) => p.stop('SIGKILL')));
      await sandboxes.stop();
      await temporal.close();
    },
  };
}
