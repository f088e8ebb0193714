/**
 * The bench's own stack on free loopback ports: a Temporal dev server (in memory, with its Prometheus endpoint and the
 * saga's search attributes), the five provider sandboxes as one process, and one bench worker process running the
 * compiled package with plain `node` (`./worker.cjs`), which serves the saga and the baseline from one workflow bundle.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import { ensureTemporalCli } from '../../src/stack/temporal-binaries';
import { WORKER_NODE_OPTIONS, WORKFLOW_INTERCEPTOR_MODULES } from '../../src/worker';
import { freePort, Managed, sandboxesProcess, type SandboxUrls } from '../chaos/processes';

export const ROOT = join(__dirname, '..', '..');

export interface BenchStack {
  /** `temporal --version`. */
  temporalVersion: string;
  temporal: Managed;
  sandboxes: Managed;
  worker: Managed;
  address: string;
  metricsUrl: string;
  sandboxUrls: SandboxUrls;
  taskQueue: string;
  bundlePath: string;
  /** The environment the worker runs with, on top of the bench's own. */
  workerEnv: Record<string, string>;
  /** The worker's node flags (its heap bound). */
  workerNodeOptions: readonly string[];
  connection: Connection;
  client: Client;
  close(): Promise<void>;
}

/** Compiles the package (`dist/`), as chaos does, so the worker runs today's code. */
export function buildPackage(log: (line: string) => void): void {
  log('building dist/ (node scripts/build.mjs)');
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`the build failed (exit ${built.status})`);
}

/** The bench's workflow bundle (saga and baseline, with the production workflow interceptors), written to `dir`. */
export async function buildBundle(dir: string, log: (line: string) => void): Promise<string> {
  log('bundling scripts/bench/workflows.ts (refundSaga + baselineRefund, production interceptors)');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  const path = join(dir, 'bench-workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

export async function startBenchStack(
  bundlePath: string,
  log: (line: string) => void,
  profileDir?: string,
): Promise<BenchStack> {
  const cli = await ensureTemporalCli(log);
  if (!cli.path) throw new Error('no Temporal CLI: install Go (see the README), or set TEMPORAL_CLI_PATH');
  const version = spawnSync(cli.path, ['--version'], { encoding: 'utf8' });
  const temporalVersion = (version.stdout ?? '').trim() || 'unknown';

  const [port, metricsPort, httpPort] = await Promise.all(Array.from({ length: 3 }, freePort));
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port)];
  args.push('--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--log-level', 'error');
  for (const key of REFUND_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${key.type === 'BOOL' ? 'Bool' : 'Keyword'}`);
  const temporal = new Managed('temporal', cli.path, args, {}, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 500 });
    await connection.workflowService.getSystemInfo({});
    await connection.close();
    return true;
  });

  // In memory (no state dir): persistence rewrites the whole state file on every request, which at thousands of
  // orders costs more than the request and would make the sandboxes the bottleneck being measured.
  const { sandboxes, urls: sandboxUrls } = await sandboxesProcess();

  const taskQueue = 'refunds-bench';
  // With a profile directory the worker writes a CPU profile of each thread there when it exits.
  const workerNodeOptions = [
    ...WORKER_NODE_OPTIONS,
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  ];
  const workerEnv = {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    WORKER_VERSIONING: 'off',
    METRICS_PORT: '0',
    BENCH_WORKFLOW_BUNDLE: bundlePath,
    CIRCLE_BASE_URL: sandboxUrls.circle,
    STRIPE_BASE_URL: sandboxUrls.stripeClimate,
    SQUAKE_BASE_URL: sandboxUrls.squake,
    ONECLICKIMPACT_BASE_URL: sandboxUrls.oneClickImpact,
    RECON_BASE_URL: sandboxUrls.impactRecon,
  };
  const worker = new Managed(
    'worker',
    process.execPath,
    [...workerNodeOptions, join(ROOT, 'scripts', 'bench', 'worker.cjs')],
    workerEnv,
    /bench worker ready/,
  );

  log(`starting the dev server on ${address} (metrics :${metricsPort}), the sandboxes and the bench worker`);
  await temporal.start();
  try {
    await sandboxes.start();
    await worker.start();
  } catch (err) {
    await Promise.all([worker.stop('SIGKILL'), sandboxes.stop('SIGKILL'), temporal.stop('SIGKILL')]);
    throw err;
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  return {
    temporalVersion,
    temporal,
    sandboxes,
    worker,
    address,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    sandboxUrls,
    taskQueue,
    bundlePath,
    workerEnv,
    workerNodeOptions,
    connection,
    client,
    async close() {
      await connection.close().catch(() => undefined);
      await worker.stop('SIGTERM');
      await worker.stop('SIGKILL');
      await sandboxes.stop();
      await temporal.stop();
      await temporal.stop('SIGKILL');
    },
  };
}
