/** The chaos suite's processes: each one killable and restartable with the same command, as a process group. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

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

/** The five provider sandboxes' URLs, by provider. */
export type SandboxUrls = Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>;

/**
 * The provider sandboxes as one process on free loopback ports, their state kept under `stateDir` (so it survives a
 * restart), or in memory without one.
 */
export async function sandboxesProcess(stateDir?: string): Promise<{ sandboxes: Managed; urls: SandboxUrls }> {
  const [circle, stripeClimate, squake, oneClickImpact, impactRecon] = await Promise.all(
    Array.from({ length: 5 }, freePort),
  );
  const ports = { circle, stripeClimate, squake, oneClickImpact, impactRecon };
  const urls = Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]),
  ) as SandboxUrls;
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
      SANDBOX_STATE_DIR: stateDir ?? '',
    },
    /Provider sandboxes are up/,
  );
  return { sandboxes, urls };
}
