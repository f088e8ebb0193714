/**
 * The chaos suite's cluster profile: a self-hosted Temporal server that is not the dev server, as a user who outgrows
 * one machine runs it — the frontend, history, matching and worker services as four separate `temporal-server`
 * processes, on PostgreSQL (Debian's `postgresql` package), all on free loopback ports under one directory.
 *
 * Provisioning (nothing installed by hand is assumed):
 * - `temporal-server` and its SQL schema tool are built with `go install go.temporal.io/server/cmd/server@v1.29.1` and
 *   `.../cmd/tools/sql@v1.29.1` (CGO off; the server inside the project's Temporal CLI, whose go.mod has no `replace`
 *   directive) into `<cache>/temporal-server/v1.29.1/` next to the CLI's build (see `src/stack/temporal-binaries.ts`),
 *   once per machine, under a lock. A fresh build takes a few minutes on 2 cores. The schema tool applies the
 *   PostgreSQL schema embedded in it (`--schema-name postgresql/v12/...`, the same files as the module's
 *   `schema/postgresql/v12/{temporal,visibility}/versioned`), so it does not depend on the Go module cache surviving.
 * - PostgreSQL: the newest `/usr/lib/postgresql/<n>/bin`, else `apt-get install -y postgresql` (needs root). It refuses
 *   to run as root, so `initdb` and `postgres` run as the `postgres` user (`setpriv`), in `<dir>/postgres`, listening
 *   on 127.0.0.1 and a socket in `<dir>/postgres/run`. A role `temporal` with a random password owns the databases
 *   `temporal` and `temporal_visibility` (SQL visibility: custom search attributes work, no Elasticsearch).
 * - The server's config (`<dir>/temporal/config/cluster.yaml`, written as JSON, which YAML reads) and its dynamic config
 *   (`dynamicconfig.yaml`: workflow update, multi-operation, eager start, worker versioning on, and the dev server's
 *   search attribute cache refresh and persistence QPS) are written fresh at each start. 4 history shards.
 * - Once the frontend answers, the `default` namespace (retention 3 days) and the given search attributes are
 *   registered through the workflow and operator services, and the cluster counts as ready only when a workflow can be
 *   started and terminated through it (frontend → history → PostgreSQL), which is also the readiness check after each
 *   fault. Every wait has a deadline and fails with the processes' output.
 *
 * Faults: `killHistory` (SIGKILL the history service, start it again after a pause) and `restartPostgres` (fast
 * shutdown, start again); `stopAll`/`startAll` stop and start the four Temporal services with any signal.
 *
 * Smoke test: `npx tsx scripts/chaos/cluster.ts` brings a cluster up in a temporary directory, checks the namespace and
 * the saga's search attributes, runs each fault and a full restart, checks the frontend after each, prints timings
 * and tears down. `CLUSTER_SMOKE_KEEP=1` keeps it running (address printed) until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { grpc, temporal } from '@temporalio/proto';
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import { cacheRoot, isAlive, isExecutable, onPath } from '../../src/stack/temporal-binaries';
import { Managed, freePort, sleep } from './processes';

/** The Temporal server release built with `go install`: the one inside the project's Temporal CLI (v1.5.1). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/** The namespace the cluster registers, which the saga's workers and clients use by default. */
export const CLUSTER_NAMESPACE = 'default';

type Log = (line: string) => void;

/** A custom search attribute to register: `type` is an indexed value type, e.g. `KEYWORD`, `BOOL`, `TEXT`, `INT`. */
export interface ClusterSearchAttribute {
  readonly name: string;
  readonly type: string;
}

export interface TemporalCluster {
  /** The frontend's gRPC address, `127.0.0.1:<port>`: what `TEMPORAL_ADDRESS` of workers and clients points at. */
  address: string;
  namespace: string;
  /** postgres, frontend, history, matching, worker. */
  processes: Managed[];
  postgres: Managed;
  frontend: Managed;
  history: Managed;
  matching: Managed;
  worker: Managed;
  /** Fast shutdown of PostgreSQL, start it again, and wait until it and the cluster answer. */
  restartPostgres(): Promise<void>;
  /** SIGKILL the history service, wait `downMs`, start it again, and wait until the cluster answers. */
  killHistory(downMs: number): Promise<void>;
  /** Stops the four Temporal services (not PostgreSQL) with `signal`; SIGKILL if one has not exited after 15 s. */
  stopAll(signal: NodeJS.Signals): Promise<void>;
  /** Starts the four Temporal services and waits until the cluster answers. */
  startAll(): Promise<void>;
  /** Stops everything, PostgreSQL included. */
  close(): Promise<void>;
}

const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
type Service = (typeof SERVICES)[number];

/** gRPC health service names the services report on (the history and matching names are the server's own). */
const HEALTH_SERVICE: Record<Exclude<Service, 'worker'>, string> = {
  frontend: 'temporal.api.workflowservice.v1.WorkflowService',
  history: 'temporal.api.workflowservice.v1.HistoryService',
  matching: 'temporal.api.workflowservice.v1.MatchingService',
};

/** Dynamic config of the cluster: the features the SDK and the saga use, and what the dev server sets. */
const DYNAMIC_CONFIG: Record<string, unknown> = {
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
  'frontend.enableExecuteMultiOperation': true,
  'system.enableEagerWorkflowStart': true,
  'system.enableDeploymentVersions': true,
  'frontend.workerVersioningWorkflowAPIs': true,
  // As the dev server: new search attributes are visible at once, with persistence QPS raised to match.
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10000,
  'history.persistenceMaxQPS': 45000,
  'history.hostLevelCacheMaxSize': 8096,
  'frontend.namespaceRPS.visibility': 100,
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Runs a command to completion; resolves with its exit code and the tail of its output, logging a heartbeat. */
function run(
  command: string,
  args: string[],
  options: { what: string; log: Log; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<{ code: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? tmpdir(),
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const heartbeat = setInterval(
      () => options.log(`still ${options.what} (${seconds(Date.now() - started)})`),
      30_000,
    );
    child.on('error', (err) => {
      clearInterval(heartbeat);
      resolve({ code: -1, output: String(err) });
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      resolve({ code: code ?? -1, output });
    });
  });
}

async function mustRun(
  command: string,
  args: string[],
  options: { what: string; log: Log; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${options.what} failed (exit ${result.code}): ${command} ${args.join(' ')}\n${result.output}`);
  }
  return result.output;
}

/** Runs `work` while holding `lockDir` (mkdir is atomic), waiting for, or taking over from, another holder. */
async function withLock<T>(lockDir: string, log: Log, work: () => Promise<T>): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir, { recursive: false });
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8').trim());
      } catch {
        // The owner has not written its pid yet.
      }
      if (owner && !isAlive(owner)) {
        log(`previous holder of ${lockDir} (pid ${owner}) died; taking over`);
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`waiting for pid ${owner || '?'}, which holds ${lockDir}`);
      announced = true;
      await sleep(2000);
      continue;
    }
    try {
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      return await work();
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  }
}

/**
 * Finds or builds `temporal-server` and the SQL schema tool (`temporal-sql-tool`), cached per user under
 * `<cache>/temporal-server/<version>/`; a fresh build runs `go install` for both (several minutes on 2 cores).
 */
export async function ensureTemporalServer(log: Log): Promise<{ server: string; sqlTool: string }> {
  const dir = join(cacheRoot(), 'temporal-server', TEMPORAL_SERVER_VERSION);
  const server = join(dir, 'temporal-server');
  const sqlTool = join(dir, 'temporal-sql-tool');
  const built = () => isExecutable(server) && isExecutable(sqlTool);
  if (built()) return { server, sqlTool };

  const go = onPath('go');
  if (!go) throw new Error('no `go` on PATH: install Go (>= 1.25) to build temporal-server for the cluster profile');
  mkdirSync(dirname(dir), { recursive: true });
  await withLock(`${dir}.lock`, log, async () => {
    if (built()) return;
    const started = Date.now();
    log(
      `building temporal-server ${TEMPORAL_SERVER_VERSION} and its SQL schema tool with \`go install\` into ${dir}; ` +
        'a fresh build takes several minutes on 2 cores, and is cached for every later run',
    );
    const staging = `${dir}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    try {
      const packages = ['cmd/server', 'cmd/tools/sql'].map(
        (p) => `go.temporal.io/server/${p}@${TEMPORAL_SERVER_VERSION}`,
      );
      await mustRun(go, ['install', ...packages], {
        what: 'building temporal-server',
        log,
        env: { ...process.env, GOBIN: staging, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      });
      mkdirSync(dir, { recursive: true });
      renameSync(join(staging, 'sql'), sqlTool);
      renameSync(join(staging, 'server'), server);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    log(`built temporal-server ${TEMPORAL_SERVER_VERSION} in ${seconds(Date.now() - started)}`);
  });
  if (!built()) throw new Error(`temporal-server was not built into ${dir}`);
  return { server, sqlTool };
}

/** The newest `/usr/lib/postgresql/<n>/bin` that has `postgres` and `initdb`. */
function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (isExecutable(join(bin, 'postgres')) && isExecutable(join(bin, 'initdb'))) return bin;
  }
  return undefined;
}

/** PostgreSQL's binaries, installing Debian's `postgresql` package if they are missing. */
async function ensurePostgres(log: Log): Promise<string> {
  const found = postgresBinDir();
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('PostgreSQL is not installed; run `apt-get install -y postgresql`');
  await withLock(join(cacheRoot(), 'postgresql-install.lock'), log, async () => {
    if (postgresBinDir()) return;
    log('installing PostgreSQL (apt-get install -y postgresql)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = ['install', '-y', '--no-install-recommends', 'postgresql'];
    const first = await run('apt-get', install, { what: 'installing PostgreSQL', log, env });
    if (first.code === 0) return;
    await mustRun('apt-get', ['update'], { what: 'apt-get update', log, env });
    await mustRun('apt-get', install, { what: 'installing PostgreSQL', log, env });
  });
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL installed, but no /usr/lib/postgresql/<n>/bin/postgres');
  return bin;
}

/** uid and gid of a system user, from /etc/passwd. */
function systemUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`no user ${name} (Debian's postgresql package creates it)`);
}

/**
 * Lets other users through `dir` (mkdtemp makes 0700 directories), so `postgres` reaches its data directory in it;
 * the directories above `dir` are left alone, and must already let other users through.
 */
function allowTraversal(dir: string, log: Log): void {
  const mode = statSync(dir).mode & 0o7777;
  if (!(mode & 0o001)) {
    chmodSync(dir, mode | 0o001);
    log(`chmod o+x ${dir}, so the postgres user can reach its data directory`);
  }
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (!(statSync(parent).mode & 0o001)) {
      throw new Error(
        `${parent} does not let other users through (o+x), so postgres cannot reach ${dir}: use a dir elsewhere`,
      );
    }
    if (dirname(parent) === parent) return;
  }
}

/** Whether a loopback port can be bound now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` free loopback ports for ringpop membership, below 32768: the SQL schema keeps a member's port in
 * `cluster_membership.rpc_port`, a PostgreSQL `smallint`, so the ephemeral ports `freePort` hands out (32768 and up on
 * Linux) make the services die at start. Drawn at random from 20000-32767, outside the ephemeral range.
 */
async function freeMembershipPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count; attempt++) {
    if (attempt > 1000) throw new Error('no free loopback port in 20000-32767 for the membership listeners');
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (!ports.has(port) && (await bindable(port))) ports.add(port);
  }
  return [...ports];
}

interface ClusterPorts {
  postgres: number;
  grpc: Record<Service, number>;
  membership: Record<Service, number>;
}

function serverConfig(ports: ClusterPorts, password: string, dynamicConfigPath: string): Record<string, unknown> {
  const sqlStore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${ports.postgres}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const disabled = { history: { state: 'disabled' }, visibility: { state: 'disabled' } };
  return {
    log: { stdout: true, level: 'info' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: sqlStore('temporal', 20), visibility: sqlStore('temporal_visibility', 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: Object.fromEntries(
      SERVICES.map((service) => [
        service,
        { rpc: { grpcPort: ports.grpc[service], membershipPort: ports.membership[service], bindOnLocalHost: true } },
      ]),
    ),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.grpc.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: disabled,
    namespaceDefaults: { archival: disabled },
    dynamicConfigClient: { filepath: dynamicConfigPath, pollInterval: '10s' },
  };
}

/** Whether the gRPC health service at `address` reports `service` as SERVING. */
async function serving(address: string, service: string): Promise<boolean> {
  const connection = Connection.lazy({ address, connectTimeout: 1000 });
  try {
    const response = await connection.withDeadline(Date.now() + 2000, () =>
      connection.healthService.check({ service }),
    );
    return response.status === grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
  } finally {
    await connection.close();
  }
}

function indexedValueType(attribute: ClusterSearchAttribute): temporal.api.enums.v1.IndexedValueType {
  const types = temporal.api.enums.v1.IndexedValueType;
  const key = `INDEXED_VALUE_TYPE_${attribute.type.toUpperCase()}`;
  if (!(key in types)) throw new Error(`search attribute ${attribute.name}: unknown type ${attribute.type}`);
  return types[key as keyof typeof types];
}

const tail = (text: string, length = 2500) => (text.length > length ? `…${text.slice(-length)}` : text);

/** Calls `attempt` until it resolves, every 500 ms, for `timeoutMs` at most; then fails with its last error. */
async function retry<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T>,
  diagnostics: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`${what}: not done within ${seconds(timeoutMs)}; last error: ${message}\n${diagnostics()}`);
      }
    }
    await sleep(500);
  }
}

/**
 * Brings the cluster up under `dir` (PostgreSQL's data, the server's config), builds or installs what is missing,
 * registers the `default` namespace and `searchAttributes`, and resolves once a workflow can be started through it.
 */
export async function startTemporalCluster(
  dir: string,
  searchAttributes: readonly ClusterSearchAttribute[],
  log: Log,
): Promise<TemporalCluster> {
  mkdirSync(dir, { recursive: true });
  const { server, sqlTool } = await ensureTemporalServer(log);
  const pgBin = await ensurePostgres(log);
  const started = Date.now();

  const [pgPort = 0, ...grpcPorts] = await Promise.all(Array.from({ length: 1 + SERVICES.length }, freePort));
  const membershipPorts = await freeMembershipPorts(SERVICES.length);
  const ports: ClusterPorts = {
    postgres: pgPort,
    grpc: Object.fromEntries(SERVICES.map((service, i) => [service, grpcPorts[i] ?? 0])) as Record<Service, number>,
    membership: Object.fromEntries(SERVICES.map((s, i) => [s, membershipPorts[i] ?? 0])) as Record<Service, number>,
  };
  const address = `127.0.0.1:${ports.grpc.frontend}`;

  // PostgreSQL, as the postgres user: a fresh cluster in <dir>/postgres unless one is there already.
  const pgRoot = join(dir, 'postgres');
  const pgData = join(pgRoot, 'data');
  const pgSocket = join(pgRoot, 'run');
  const passwordFile = join(pgRoot, 'temporal-password');
  const fresh = !existsSync(join(pgData, 'PG_VERSION'));
  mkdirSync(pgSocket, { recursive: true });
  const postgresUser = systemUser('postgres');
  chownSync(pgRoot, postgresUser.uid, postgresUser.gid);
  chownSync(pgSocket, postgresUser.uid, postgresUser.gid);
  allowTraversal(dir, log);
  const asPostgres = ['--reuid=postgres', '--regid=postgres', '--init-groups'];
  const pgEnv = { ...process.env, HOME: pgRoot, PGHOST: pgSocket, PGPORT: String(pgPort), PGUSER: 'postgres' };
  if (fresh) {
    const initdb = [join(pgBin, 'initdb'), '-D', pgData, '-U', 'postgres', '-E', 'UTF8', '--no-locale'];
    const auth = ['--auth-local=peer', '--auth-host=scram-sha-256']; // psql as postgres on the socket; Temporal by password
    await mustRun('setpriv', [...asPostgres, ...initdb, ...auth], { what: 'initdb', log, env: pgEnv, cwd: pgRoot });
    writeFileSync(passwordFile, randomBytes(12).toString('hex'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const postgres = new Managed(
    'postgres',
    'setpriv',
    [
      ...asPostgres,
      join(pgBin, 'postgres'),
      ['-D', pgData, '-p', String(pgPort), '-k', pgSocket],
      ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_permissions=0700'],
    ].flat(),
    { HOME: pgRoot },
    /database system is ready to accept connections/,
  );

  const services = Object.fromEntries(
    SERVICES.map((service) => {
      const args = ['--root', join(dir, 'temporal'), '--config', 'config', '--env', 'cluster', '--allow-no-auth'];
      const grpcAddress = `127.0.0.1:${ports.grpc[service]}`;
      const ready =
        service === 'worker' ? /worker service started/ : () => serving(grpcAddress, HEALTH_SERVICE[service]);
      return [service, new Managed(service, server, [...args, 'start', '--service', service], {}, ready)];
    }),
  ) as Record<Service, Managed>;
  const temporalServices = SERVICES.map((service) => services[service]);
  const processes = [postgres, ...temporalServices];
  const diagnostics = () =>
    processes.map((p) => `--- ${p.name} (pid ${p.child?.pid ?? '-'}) ---\n${tail(p.output)}`).join('\n');

  /** Stops a process with `signal`, then SIGKILL if it is still there. */
  const halt = async (managed: Managed, signal: NodeJS.Signals) => {
    await managed.stop(signal);
    const child = managed.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      log(`${managed.name} did not exit on ${signal} within 15 s; SIGKILL`);
      await managed.stop('SIGKILL');
    }
  };

  /** A workflow started and terminated through the frontend: the namespace, history and persistence all answer. */
  const roundTrip = async () => {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    try {
      await connection.withDeadline(Date.now() + 10_000, async () => {
        const client = new Client({ connection, namespace: CLUSTER_NAMESPACE });
        const workflowId = `cluster-probe-${Date.now()}-${randomBytes(3).toString('hex')}`;
        const handle = await client.workflow.start('clusterReadinessProbe', { taskQueue: 'cluster-probe', workflowId });
        await handle.terminate('readiness probe of the chaos cluster profile');
        await connection.workflowService
          .deleteWorkflowExecution({ namespace: CLUSTER_NAMESPACE, workflowExecution: { workflowId } })
          .catch(() => undefined);
      });
    } finally {
      await connection.close();
    }
  };
  const untilAnswers = (what: string) => retry(`${what}: a workflow round trip`, 90_000, roundTrip, diagnostics);

  /**
   * Starts the four services; the worker last, as it needs the others. The first start of all runs the frontend
   * alone first: every service writes the cluster's metadata row when it finds none, and on an empty database they
   * race, and the losers exit ("failed to initialize current cluster metadata").
   */
  const startServices = async (first: boolean) => {
    if (first) await services.frontend.start();
    const rest = first
      ? [services.history, services.matching]
      : [services.history, services.matching, services.frontend];
    await Promise.all(rest.map((p) => p.start()));
    await services.worker.start();
  };

  try {
    let mark = Date.now();
    await postgres.start();
    if (fresh) {
      const psql = join(pgBin, 'psql');
      await mustRun(
        'setpriv',
        [
          ...asPostgres,
          psql,
          ['-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', `CREATE ROLE temporal LOGIN PASSWORD '${password}'`],
          ['-c', 'CREATE DATABASE temporal OWNER temporal', '-c', 'CREATE DATABASE temporal_visibility OWNER temporal'],
        ].flat(),
        { what: 'creating the temporal role and databases', log, env: pgEnv, cwd: pgRoot },
      );
    }
    for (const [database, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      const env = {
        ...process.env,
        SQL_PLUGIN: 'postgres12',
        SQL_HOST: '127.0.0.1',
        SQL_PORT: String(pgPort),
        SQL_USER: 'temporal',
        SQL_PASSWORD: password,
        SQL_DATABASE: database,
      };
      const what = `schema of ${database}`;
      if (fresh) await mustRun(sqlTool, ['setup-schema', '-v', '0.0'], { what, log, env });
      await mustRun(sqlTool, ['update-schema', '--schema-name', `postgresql/v12/${schema}`], { what, log, env });
    }
    log(`postgres ready on 127.0.0.1:${pgPort} with the Temporal schema in ${seconds(Date.now() - mark)}`);

    const configDir = join(dir, 'temporal', 'config');
    mkdirSync(configDir, { recursive: true });
    const dynamicConfigPath = join(configDir, 'dynamicconfig.yaml');
    const dynamicConfig = Object.fromEntries(Object.entries(DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value }]]));
    writeFileSync(dynamicConfigPath, JSON.stringify(dynamicConfig, null, 2));
    writeFileSync(
      join(configDir, 'cluster.yaml'),
      JSON.stringify(serverConfig(ports, password, dynamicConfigPath), null, 2),
      { mode: 0o600 },
    );

    mark = Date.now();
    await startServices(true);
    log(`temporal services up (frontend ${address}) in ${seconds(Date.now() - mark)}`);

    mark = Date.now();
    const connection = await retry(
      'connecting to the frontend',
      30_000,
      () => Connection.connect({ address, connectTimeout: 2000 }),
      diagnostics,
    );
    try {
      await retry(
        `registering namespace ${CLUSTER_NAMESPACE}`,
        30_000,
        async () => {
          try {
            await connection.workflowService.registerNamespace({
              namespace: CLUSTER_NAMESPACE,
              workflowExecutionRetentionPeriod: msToTs('3 days'),
            });
          } catch (err) {
            if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS: registered by an earlier start
          }
          await connection.workflowService.describeNamespace({ namespace: CLUSTER_NAMESPACE });
        },
        diagnostics,
      );
      await retry(
        'registering the search attributes',
        30_000,
        async () => {
          const { customAttributes } = await connection.operatorService.listSearchAttributes({
            namespace: CLUSTER_NAMESPACE,
          });
          const missing = searchAttributes.filter((attribute) => !(attribute.name in customAttributes));
          if (!missing.length) return;
          await connection.operatorService.addSearchAttributes({
            namespace: CLUSTER_NAMESPACE,
            searchAttributes: Object.fromEntries(missing.map((a) => [a.name, indexedValueType(a)])),
          });
          throw new Error(`added ${missing.map((a) => a.name).join(', ')}; not listed yet`);
        },
        diagnostics,
      );
    } finally {
      await connection.close();
    }
    await untilAnswers('starting the cluster');
    log(
      `namespace ${CLUSTER_NAMESPACE} and ${searchAttributes.length} search attributes ready in ${seconds(Date.now() - mark)}`,
    );
  } catch (err) {
    await Promise.all(temporalServices.map((p) => halt(p, 'SIGKILL')));
    await halt(postgres, 'SIGINT');
    throw err;
  }
  log(`cluster ready in ${seconds(Date.now() - started)} (after the build)`);

  const stopAll = async (signal: NodeJS.Signals) => {
    await Promise.all(temporalServices.map((p) => halt(p, signal)));
  };
  return {
    address,
    namespace: CLUSTER_NAMESPACE,
    processes,
    postgres,
    frontend: services.frontend,
    history: services.history,
    matching: services.matching,
    worker: services.worker,
    async restartPostgres() {
      const begin = Date.now();
      await halt(postgres, 'SIGINT'); // fast shutdown: roll back open transactions, disconnect, checkpoint
      await postgres.start();
      const pgUp = Date.now();
      await untilAnswers('after restarting postgres');
      log(`postgres restarted in ${seconds(pgUp - begin)}; cluster answers after ${seconds(Date.now() - begin)}`);
    },
    async killHistory(downMs: number) {
      const begin = Date.now();
      await halt(services.history, 'SIGKILL');
      await sleep(downMs);
      const restart = Date.now();
      await services.history.start();
      const historyUp = Date.now();
      await untilAnswers('after killing the history service');
      log(
        `history killed, down ${seconds(restart - begin)}, serving ${seconds(historyUp - restart)} after its ` +
          `restart; cluster answers ${seconds(Date.now() - restart)} after its restart`,
      );
    },
    stopAll,
    async startAll() {
      const begin = Date.now();
      await startServices(false);
      await untilAnswers('after starting the services');
      log(`temporal services started; cluster answers after ${seconds(Date.now() - begin)}`);
    },
    async close() {
      await stopAll('SIGTERM');
      await halt(postgres, 'SIGINT');
    },
  };
}

async function smoke(): Promise<void> {
  const log: Log = (line) => console.log(`[cluster ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const time = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const begin = Date.now();
    const result = await work();
    log(`TIMING ${what}: ${seconds(Date.now() - begin)}`);
    return result;
  };
  await time('build (or cache hit)', () => ensureTemporalServer(log));
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-cluster-'));
  let cluster: TemporalCluster | undefined;
  try {
    const up = await time('start to ready', () => startTemporalCluster(dir, REFUND_SEARCH_ATTRIBUTES, log));
    cluster = up;
    const check = async (when: string) => {
      const connection = await Connection.connect({ address: up.address });
      try {
        const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: up.namespace });
        const { namespaces } = await connection.workflowService.listNamespaces({});
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: up.namespace });
        const missing = REFUND_SEARCH_ATTRIBUTES.filter((key) => !(key.name in customAttributes));
        if (namespaceInfo?.name !== up.namespace || missing.length) {
          throw new Error(`${when}: namespace ${namespaceInfo?.name}, missing ${missing.map((k) => k.name).join(',')}`);
        }
        const names = namespaces.map((n) => n.namespaceInfo?.name).join(', ');
        log(
          `${when}: describeNamespace ok; namespaces ${names}; search attributes ${Object.keys(customAttributes).join(', ')}`,
        );
      } finally {
        await connection.close();
      }
    };
    const alive = (when: string) => {
      const dead = up.processes.filter((p) => !p.child || p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead.length) throw new Error(`${when}: ${dead.map((p) => `${p.name}\n${p.output.slice(-3000)}`).join('\n')}`);
    };
    await check('after start');
    await time('killHistory(2000) to cluster answering', () => up.killHistory(2000));
    await check('after killHistory');
    alive('after killHistory');
    await time('restartPostgres to cluster answering', () => up.restartPostgres());
    await check('after restartPostgres');
    await sleep(15_000); // PostgreSQL's restart must not take a service down a little later (heartbeats, pools)
    alive('15 s after restartPostgres');
    await time('stopAll(SIGTERM)', () => up.stopAll('SIGTERM'));
    await time('startAll to cluster answering', () => up.startAll());
    await check('after stopAll/startAll');
    if (process.env.CLUSTER_SMOKE_KEEP === '1') {
      log(`cluster kept up: TEMPORAL_ADDRESS=${up.address} (data in ${dir}); Ctrl-C to stop`);
      await new Promise((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    const started = cluster;
    if (started) await time('close', () => started.close());
    rmSync(dir, { recursive: true, force: true });
  }
  log('smoke test passed');
}

if (require.main === module) {
  smoke().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
