/**
 * Heartbeats cost a billable action each when they reach the server: a recon read of one page sends none, a read of
 * several pages says it is alive between them.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';

let sandboxes: RunningSandboxes;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  sandboxes = await startTestSandboxes();
  activities = createActivities(sandboxClients(sandboxes, 10_000));
});
beforeEach(() => sandboxes.impactRecon.reset());
afterAll(() => sandboxes?.close());

const allocation = '6c4b0f3e-5d2a-4f1b-8e9c-0a1b2c3d4e5f';
const since = new Date(Date.now() - 3_600_000).toISOString();

/** Runs the recon read in a mock activity context and counts its heartbeats. */
async function readCountingHeartbeats(consumerReference: string) {
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  let heartbeats = 0;
  env.on('heartbeat', () => heartbeats++);
  const found = await env.run(() =>
    activities.findReconReversal({ fundsAllocationId: allocation, consumerReference, since }),
  );
  return { found, heartbeats };
}

describe('the recon read heartbeats only when it spans more than one page', () => {
  beforeEach(() => {
    sandboxes.impactRecon.addFixtures({
      allocations: [
        { fundsAllocationId: allocation, consumerReference: 'consumer_hb', fundsDateTime: new Date().toISOString() },
      ],
    });
  });

  it('sends no heartbeat for a read of one page', async () => {
    const { found, heartbeats } = await readCountingHeartbeats('consumer_hb');
    expect(found).toMatchObject({ kind: 'none', scanned: 1 });
    expect(heartbeats).toBe(0);
  });

  it('heartbeats after each page past the first', async () => {
    sandboxes.impactRecon.addFixtures({
      generate: { count: 250, from: since, spacingSeconds: 1, consumerReference: 'consumer_hb' },
    });
    const { found, heartbeats } = await readCountingHeartbeats('consumer_hb');
    expect(found).toMatchObject({ kind: 'none', scanned: 251 });
    expect(heartbeats).toBe(2);
  });
});
