/**
 * Finds Debian's Chromium for the browser tests (playwright-core drives it; Playwright's own browser download needs
 * hosts that build machines here cannot reach), and installs it with apt when it is missing and this process may.
 * Usage: tsx scripts/ensure-chromium.ts   (prints the path; exits 1 with what to install when it cannot)
 */
import { spawn } from 'node:child_process';
import { isExecutable, onPath } from '../src/stack/temporal-binaries';

/** Headless Chromium's flags for tests and scripts: without the background-networking ones it dials Google's services, which this network refuses. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where Debian's `chromium` package puts the browser. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export type Log = (line: string) => void;

/** Raised when Chromium is absent and cannot be installed here; the message says what to install. */
export class ChromiumUnavailableError extends Error {
  override name = 'ChromiumUnavailableError';
}

const WHAT_TO_INSTALL =
  "Install Debian's Chromium as root (`apt-get update && apt-get install -y chromium`), or set CHROMIUM_PATH to a " +
  'Chromium or Chrome executable.';

/** `CHROMIUM_PATH` → `/usr/bin/chromium` → `chromium` on PATH; `undefined` when none is there. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new ChromiumUnavailableError(`CHROMIUM_PATH=${fromEnv} is not an executable file. Fix it or unset it.`);
    }
    return fromEnv;
  }
  if (isExecutable(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  return onPath('chromium', env);
}

/** Runs a command, passing each line of its output to `log`, with a heartbeat; resolves with its exit code. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, log: Log): Promise<number> {
  const started = Date.now();
  log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    const lines = (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) if (line.trim()) log(`  ${line.trimEnd()}`);
    };
    child.stdout.on('data', lines);
    child.stderr.on('data', lines);
    const heartbeat = setInterval(
      () => log(`  … still running (${Math.round((Date.now() - started) / 1000)} s)`),
      30_000,
    );
    const done = (code: number) => {
      clearInterval(heartbeat);
      if (pending.trim()) log(`  ${pending.trimEnd()}`);
      log(`  (exit ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      resolve(code);
    };
    child.on('error', (err) => {
      log(`  ${String(err)}`);
      done(-1);
    });
    child.on('close', (code) => done(code ?? -1));
  });
}

/**
 * The path of a Chromium executable. When there is none and this process is root with apt-get on PATH, installs
 * Debian's `chromium` (running `apt-get update` first if the install fails, as it does on a machine without package
 * lists); a cold install takes about half a minute to a few minutes. Otherwise throws {@link ChromiumUnavailableError}.
 */
export async function ensureChromium(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const found = findChromium(env);
  if (found) return found;

  const aptGet = onPath('apt-get', env);
  const root = process.getuid?.() === 0;
  if (!aptGet || !root) {
    const why = !aptGet ? 'there is no apt-get on PATH' : 'this process is not root, so it cannot run apt-get';
    throw new ChromiumUnavailableError(
      `No Chromium found (${DEBIAN_CHROMIUM} or on PATH), and ${why}. ${WHAT_TO_INSTALL}`,
    );
  }

  log("no Chromium found; installing Debian's chromium with apt-get (a cold install takes a minute or two)");
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for another apt or dpkg run instead of failing at once on its lock.
  const install = ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'chromium'];
  let code = await run(aptGet, install, aptEnv, log);
  if (code !== 0) {
    log('the install failed; refreshing the package lists (apt-get update) and trying once more');
    const updated = await run(aptGet, ['-o', 'DPkg::Lock::Timeout=300', 'update'], aptEnv, log);
    if (updated === 0) code = await run(aptGet, install, aptEnv, log);
  }
  const installed = findChromium(env);
  if (code !== 0 || !installed) {
    throw new ChromiumUnavailableError(`apt-get could not install chromium (see its output above). ${WHAT_TO_INSTALL}`);
  }
  log(`installed ${installed}`);
  return installed;
}

if (require.main === module) {
  const log: Log = (line) => console.error(`[chromium] ${line}`);
  ensureChromium(log).then(
    (path) => console.log(path),
    (err: unknown) => {
      log(err instanceof ChromiumUnavailableError ? err.message : String(err));
      process.exit(1);
    },
  );
}
