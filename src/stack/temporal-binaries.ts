/**
 * Offline provisioning of the two Temporal servers the project runs: the Temporal CLI (dev server + Web UI) and the
 * Java time-skipping test server. Both come from package registries (the Go module proxy and Maven Central), because
 * the SDK's own download reaches hosts that build machines here cannot. Builds are cached per user, so every clone on
 * a machine reuses them, and guarded by a lock, so two runs at once build once.
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Temporal CLI release built with `go install`: the newest whose go.mod has no `replace` directive. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Maven Central release of `io.temporal:temporal-test-server`. */
export const TEST_SERVER_VERSION = '1.38.0';

/** Where one binary comes from; `undefined` path means the SDK downloads it itself (needs internet). */
export interface ResolvedBinary {
  path: string | undefined;
  source: 'env' | 'path' | 'cache' | 'built' | 'sdk-download';
}

export type Log = (line: string) => void;

/** Raised when an explicitly configured binary is unusable; the message says what to fix. */
export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
}

/**
 * Root of the user-level cache shared by every clone on this machine.
 * @default `$REFUND_SAGA_CACHE_DIR`, else `$XDG_CACHE_HOME/refund-saga`, else `~/.cache/refund-saga`
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REFUND_SAGA_CACHE_DIR) return env.REFUND_SAGA_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'refund-saga');
}

/** Whether `path` is a file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `command` on `env.PATH` this process may execute. */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function explicitPath(variable: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[variable];
  if (!value) return undefined;
  if (!isExecutable(value)) {
    throw new ProvisioningError(`${variable}=${value} is not an executable file. Fix the path or unset ${variable}.`);
  }
  return value;
}

/** Whether a process with this pid is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `build` at most once across processes: the first caller takes `lockDir` (mkdir is atomic), later callers wait
 * until `done()` or until the lock's owner has died, in which case they take over.
 */
async function once(lockDir: string, done: () => boolean, build: () => Promise<void>, log: Log): Promise<void> {
  let announced = false;
  for (;;) {
    if (done()) return;
    try {
      mkdirSync(lockDir);
    } catch {
      const owner = Number(safeRead(join(lockDir, 'pid')));
      if (owner && !isAlive(owner)) {
        log(`previous build (pid ${owner}) died; taking over`);
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`another process (pid ${owner || '?'}) is building it; waiting for it to finish`);
      announced = true;
      await sleep(2000);
      continue;
    }
    try {
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      if (!done()) await build();
      return;
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Runs a command, printing a heartbeat while it works; resolves with its exit code and the tail of its output. */
function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; what: string; expected: string },
  log: Log,
): Promise<{ code: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const heartbeat = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      log(
        `still ${options.what} (${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s elapsed; ${options.expected})`,
      );
    }, 30_000);
    child.on('error', (err) => {
      clearInterval(heartbeat);
      resolve({ code: -1, output: String(err) });
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      log(`${options.what}: finished in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      resolve({ code: code ?? -1, output });
    });
  });
}

/**
 * Finds or builds the Temporal CLI: `TEMPORAL_CLI_PATH` → `temporal` on PATH → cached build → `go install` →
 * otherwise the SDK's download.
 */
export async function ensureTemporalCli(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedBinary> {
  const fromEnv = explicitPath('TEMPORAL_CLI_PATH', env);
  if (fromEnv) return { path: fromEnv, source: 'env' };
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'path' };

  const dir = join(cacheRoot(env), 'temporal-cli', TEMPORAL_CLI_VERSION);
  const binary = join(dir, 'temporal');
  if (isExecutable(binary)) return { path: binary, source: 'cache' };

  const go = onPath('go', env);
  if (!go) {
    log(
      'no `go` on PATH, so the Temporal CLI cannot be built offline; falling back to the SDK download, which needs ' +
        'internet. Install Go (>= 1.23) or set TEMPORAL_CLI_PATH to a `temporal` binary.',
    );
    return { path: undefined, source: 'sdk-download' };
  }

  mkdirSync(dir, { recursive: true });
  let failure: string | undefined;
  await once(
    `${dir}.lock`,
    () => isExecutable(binary),
    async () => {
      log(
        `building the Temporal CLI ${TEMPORAL_CLI_VERSION} with \`go install\` into ${dir}. ` +
          'A fresh build takes several minutes (about 5-10 on 2 cores); it is cached for every later run.',
      );
      const staging = `${dir}.staging-${process.pid}`;
      rmSync(staging, { recursive: true, force: true });
      const result = await run(
        go,
        ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
        {
          env: { ...env, GOBIN: staging, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
          what: 'building the Temporal CLI',
          expected: 'a fresh build takes several minutes',
        },
        log,
      );
      if (result.code !== 0 || !isExecutable(join(staging, 'temporal'))) {
        failure = result.output.trim().split('\n').slice(-15).join('\n');
        rmSync(staging, { recursive: true, force: true });
        return;
      }
      renameSync(join(staging, 'temporal'), binary);
      rmSync(staging, { recursive: true, force: true });
    },
    log,
  );
  if (isExecutable(binary)) return { path: binary, source: 'built' };
  log(
    `\`go install\` of the Temporal CLI failed; falling back to the SDK download (needs internet). ` +
      `Set TEMPORAL_CLI_PATH to skip the build. go said:\n${failure ?? '(no output)'}`,
  );
  return { path: undefined, source: 'sdk-download' };
}

function testServerPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.refund-saga</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
    <!-- Binds the test server's SLF4J 1.7 logging to nothing, instead of a warning at every start. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
`;
}

function testServerWrapper(java: string): string {
  return `#!/bin/sh
# Temporal time-skipping test server ${TEST_SERVER_VERSION} from Maven Central; args: <port> [--enable-time-skipping]
here="$(cd "$(dirname "$0")" && pwd)"
exec "${java}" -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
`;
}

/**
 * Finds or assembles the Java time-skipping test server: `TEMPORAL_TEST_SERVER_PATH` → cached wrapper and jars →
 * Maven Central via `mvn` → otherwise the SDK's download.
 */
export async function ensureTestServer(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedBinary> {
  const fromEnv = explicitPath('TEMPORAL_TEST_SERVER_PATH', env);
  if (fromEnv) return { path: fromEnv, source: 'env' };

  const dir = join(cacheRoot(env), 'temporal-test-server', TEST_SERVER_VERSION);
  const wrapper = join(dir, 'temporal-test-server');
  if (isExecutable(wrapper)) return { path: wrapper, source: 'cache' };

  const java = onPath('java', env);
  const mvn = onPath('mvn', env);
  if (!java || !mvn) {
    const missing = [!java && '`java` (a JDK >= 11)', !mvn && '`mvn` (Maven)'].filter(Boolean).join(' and ');
    log(
      `no ${missing} on PATH, so the time-skipping test server cannot be fetched from Maven Central; falling back to ` +
        'the SDK download, which needs internet. Install them or set TEMPORAL_TEST_SERVER_PATH.',
    );
    return { path: undefined, source: 'sdk-download' };
  }

  mkdirSync(dir, { recursive: true });
  let failure: string | undefined;
  await once(
    `${dir}.lock`,
    () => isExecutable(wrapper),
    async () => {
      log(`fetching io.temporal:temporal-test-server:${TEST_SERVER_VERSION} and its dependencies from Maven Central`);
      const staging = `${dir}.staging-${process.pid}`;
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      writeFileSync(join(staging, 'pom.xml'), testServerPom());
      const result = await run(
        mvn,
        ['-B', '-q', 'dependency:copy-dependencies', '-DoutputDirectory=lib', '-DincludeScope=runtime'],
        { cwd: staging, env, what: 'fetching the test server', expected: 'usually under a minute' },
        log,
      );
      if (result.code !== 0 || !existsSync(join(staging, 'lib'))) {
        failure = result.output.trim().split('\n').slice(-15).join('\n');
        rmSync(staging, { recursive: true, force: true });
        return;
      }
      const stagedWrapper = join(staging, 'temporal-test-server');
      writeFileSync(stagedWrapper, testServerWrapper(java));
      chmodSync(stagedWrapper, 0o755);
      rmSync(dir, { recursive: true, force: true });
      renameSync(staging, dir);
    },
    log,
  );
  if (isExecutable(wrapper)) return { path: wrapper, source: 'built' };
  log(
    `Maven could not fetch the test server; falling back to the SDK download (needs internet). ` +
      `Set TEMPORAL_TEST_SERVER_PATH to skip this. mvn said:\n${failure ?? '(no output)'}`,
  );
  return { path: undefined, source: 'sdk-download' };
}

/** The `server.executable` option of `@temporalio/testing` for a resolved binary. */
export function toExecutable(binary: ResolvedBinary) {
  return binary.path ? ({ type: 'existing-path', path: binary.path } as const) : ({ type: 'cached-download' } as const);
}
