/**
 * The chaos suite's own stack, on ports it picks: a Temporal dev server (SQLite file, so it survives a restart), the
 * sandboxes as a separate process with persistence, the API and worker processes running the compiled package — each
 * a process the suite can kill and start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import { ensureTemporalCli } from '../../src/stack/temporal-binaries';

const ROOT = join(__dirname, '..', '..');

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A process of the stack that can be killed and started again with the same command. */
export class Managed {
  child?: ChildProcess;
  output = '';
  /** How many times it was started. */
  starts = 0;
  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly ready: RegExp | (() => Promise<boolean>),
  ) {}

  /** Starts it and resolves when it is ready (its output matches, or its probe answers), 60 s at most. */
  async start(): Promise<void> {
    this.output = '';
    this.starts++;
    const child = spawn(this.command, this.args, {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${this.name} exited while starting:\n${this.output}`);
      const ready =
        typeof this.ready === 'function' ? await this.ready().catch(() => false) : this.ready.test(this.output);
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`${this.name} not ready in 60 s:\n${this.output}`);
      await sleep(100);
    }
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Signals its whole process group, and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid!, signal);
    } catch {
      return;
    }
    await Promise.race([exited, sleep(15_000)]);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A way the Temporal server goes down and comes back after `downMs`. */
export interface ServerFault {
  name: string;
  inject(downMs: number): Promise<void>;
}

export interface ChaosStack {
  temporal: Managed;
  serverFaults: ServerFault[];
  sandboxes: Managed;
  api: Managed;
  workers: Managed[];
  address: string;
  apiUrl: string;
  apiToken: string;
  sandboxUrls: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>;
  taskQueue: string;
  client: Client;
  close(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(url)).status < 500;
}

/** Brings the stack up under `dir` (the dev server's database and the sandboxes' state). */
export async function startChaosStack(
  dir: string,
  workerCount: number,
  log: (line: string) => void,
): Promise<ChaosStack> {
  mkdirSync(dir, { recursive: true });
  const cli = await ensureTemporalCli(log);
  if (!cli.path) throw new Error('no Temporal CLI: install Go (see the README), or set TEMPORAL_CLI_PATH');
  const [temporalPort, apiPort, circle, stripeClimate, squake, oneClickImpact, impactRecon] = await Promise.all(
    Array.from({ length: 7 }, freePort),
  );
  const address = `127.0.0.1:${temporalPort}`;
  const temporalArgs = ['server', 'start-dev', '--headless', '--port', String(temporalPort)];
  temporalArgs.push('--db-filename', join(dir, 'temporal.db'), '--log-level', 'error');
  for (const key of REFUND_SEARCH_ATTRIBUTES)
    temporalArgs.push('--search-attribute', `${key.name}=${key.type === 'BOOL' ? 'Bool' : 'Keyword'}`);
  const temporal = new Managed('temporal', cli.path, temporalArgs, {}, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 500 });
    await connection.workflowService.getSystemInfo({});
    await connection.close();
    return true;
  });

  const ports = { circle, stripeClimate, squake, oneClickImpact, impactRecon };
  const sandboxUrls = Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]),
  ) as ChaosStack['sandboxUrls'];
  const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const sandboxes = new Managed(
    'sandboxes',
    process.execPath,
    [tsx, 'scripts/sandboxes.ts'],
    {
      CIRCLE_SANDBOX_PORT: String(circle),
      STRIPE_SANDBOX_PORT: String(stripeClimate),
      SQUAKE_SANDBOX_PORT: String(squake),
      ONECLICKIMPACT_SANDBOX_PORT: String(oneClickImpact),
      RECON_SANDBOX_PORT: String(impactRecon),
      SANDBOX_STATE_DIR: join(dir, 'sandboxes'),
    },
    /Provider sandboxes are up/,
  );

  const taskQueue = 'refunds-chaos';
  const apiToken = `chaos_${Math.random().toString(36).slice(2)}_token`;
  const common = {
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
    { ...common, API_TOKEN: apiToken, CIRCLE_WEBHOOK_SECRET: `whsec_${apiToken}`, PORT: String(apiPort) },
    () => answers(`${apiUrl}/healthz`),
  );
  const workers = Array.from(
    { length: workerCount },
    (_, i) =>
      new Managed(
        `worker-${i + 1}`,
        process.execPath,
        ['dist/bin.js', 'worker'],
        { ...common, LOG_LEVEL: 'info' },
        /worker polling/,
      ),
  );

  await temporal.start();
  await sandboxes.start();
  await Promise.all([api.start(), ...workers.map((w) => w.start())]);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const restart = (signal: NodeJS.Signals): ServerFault => ({
    name: `dev server ${signal}`,
    async inject(downMs) {
      await temporal.stop(signal);
      await sleep(downMs);
      await temporal.start();
    },
  });
  return {
    temporal,
    serverFaults: [restart('SIGTERM'), restart('SIGKILL')],
    sandboxes,
    api,
    workers,
    address,
    apiUrl,
    apiToken,
    sandboxUrls,
    taskQueue,
    client,
    async close() {
      await connection.close();
      await Promise.all([api, ...workers].map((p) => p.stop('SIGKILL')));
      await sandboxes.stop();
      await temporal.stop();
    },
  };
}
