/** Starts a provider sandbox on a free port for one test file, with a clock the test moves by hand. */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { SandboxServer } from '../../src/providers/sandbox-server';
import { startSandboxes, type RunningSandboxes } from '../../src/stack/sandboxes';
import { buildClients } from '../../src/worker';

/** A clock tests advance instead of sleeping. */
export class ManualClock {
  constructor(public ms = Date.parse('2026-11-22T12:00:00.000Z')) {}
  readonly now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
}

/** Runs `sandbox` for the file and resets it before each test; `url()` is its base URL. */
export function useSandbox<T extends SandboxServer<unknown, object>>(sandbox: T) {
  let url = '';
  beforeAll(async () => {
    url = await sandbox.listen(0);
  });
  beforeEach(() => sandbox.reset());
  afterAll(() => sandbox.close());
  return { sandbox, url: () => url };
}

/** Awaits a promise expected to reject, and returns the rejection. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Provider clients pointed at running sandboxes, with their dev keys. */
export function sandboxClients(sandboxes: RunningSandboxes, timeoutMs = 2000) {
  const u = sandboxes.urls;
  return buildClients({
    circle: { baseUrl: u.circle, apiKey: sandboxes.circle.apiKey, timeoutMs },
    stripeClimate: { baseUrl: u.stripeClimate, secretKey: sandboxes.stripeClimate.apiKey, timeoutMs },
    squake: { baseUrl: u.squake, token: sandboxes.squake.apiKey, timeoutMs },
    oneClickImpact: { baseUrl: u.oneClickImpact, apiKey: sandboxes.oneClickImpact.apiKey, timeoutMs },
    impactRecon: { baseUrl: u.impactRecon, apiKey: sandboxes.impactRecon.apiKey, timeoutMs },
  });
}

/** All five sandboxes on free ports. */
export function startTestSandboxes(): Promise<RunningSandboxes> {
  return startSandboxes({
    host: '127.0.0.1',
    ports: { circle: 0, stripeClimate: 0, squake: 0, oneClickImpact: 0, impactRecon: 0 },
  });
}
