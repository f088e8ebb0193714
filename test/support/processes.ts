/** The project's own processes (`refund-saga worker`, `api`, …) run from the sources, as a user would start them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface StartedProcess {
  child: ChildProcess;
  /** The first output line that matched `ready`. */
  readyLine: string;
  /** Signals the whole process group: tsx runs the program in a child process of its own. */
  kill(signal: NodeJS.Signals): void;
}

/** Runs `refund-saga <command>` through tsx, and resolves once a line of its output matches `ready` (60 s at most). */
export function startProcess(command: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<StartedProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'src/bin.ts', command], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} not ready in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const readyLine = output.split('\n').find((line) => ready.test(line));
      if (readyLine) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        resolve({ child, readyLine, kill });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code ?? signal}):\n${output}`));
    });
  });
}

/** The worker's environment for sandboxes at `urls`: unversioned, no metrics port, its own task queue. */
export function workerEnv(
  temporalAddress: string,
  taskQueue: string,
  urls: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>,
): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    WORKER_VERSIONING: 'off',
    METRICS_PORT: '0',
    // The tests' own clients read the sagas' status without the codec (encryption has its own tests).
    PAYLOAD_ENCRYPTION: 'off',
    CIRCLE_BASE_URL: urls.circle,
    STRIPE_BASE_URL: urls.stripeClimate,
    SQUAKE_BASE_URL: urls.squake,
    ONECLICKIMPACT_BASE_URL: urls.oneClickImpact,
    RECON_BASE_URL: urls.impactRecon,
  };
}
