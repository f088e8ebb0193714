/** Starts a provider sandbox on a free port for one test file, with a clock the test moves by hand. */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { SandboxServer } from '../../src/providers/sandbox-server';

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
