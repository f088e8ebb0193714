/** A real stack for one test file: the run's dev server, the five sandboxes, and a saga worker with real activities. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sagaWorkerOptions } from '../../src/worker';
import { sandboxClients, startTestSandboxes } from './sandboxes';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from './temporal';

export interface SagaStack {
  env: TestWorkflowEnvironment;
  sandboxes: RunningSandboxes;
  taskQueue: string;
}

/** Starts the stack before the file's tests and stops it after; settlement and reversals take 300 ms. */
export function useSagaStack(): () => SagaStack {
  let stack: SagaStack | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  beforeAll(async () => {
    const env = await devServerEnvironment();
    const sandboxes = await startTestSandboxes();
    sandboxes.circle.configure({ settleDelayMs: 300 });
    sandboxes.impactRecon.configure({ reversalDelayMs: 300 });
    const taskQueue = uniqueTaskQueue('stack');
    worker = await Worker.create(
      sagaWorkerOptions(sandboxClients(sandboxes, 1000), {
        taskQueue,
        connection: env.nativeConnection,
        workflowBundle: workflowBundle(),
      }),
    );
    running = worker.run();
    stack = { env, sandboxes, taskQueue };
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await stack?.sandboxes.close();
    await stack?.env.teardown();
  });
  return () => stack!;
}

/** Real-time polling for a real server: short intervals so sagas finish in seconds, and deadlines to match. */
export const FAST_POLLING = {
  pollInitialMs: 200,
  pollMaxMs: 1000,
  settlementDeadlineMs: 600_000,
  reconDeadlineMs: 600_000,
};

const randomId = () => Math.random().toString(36).slice(2, 10);

/** Seeds one order's resources in the sandboxes and returns its refund request. */
export function seedOrder(
  sandboxes: RunningSandboxes,
  options: { stripeAgeSeconds?: number; settleDelayMs?: number; reversal?: 'match' | 'mismatch' } = {},
) {
  const paymentId = crypto.randomUUID();
  const allocationId = crypto.randomUUID();
  const orderId = `climorder_${randomId()}`;
  const timeUtc = new Date(Date.now() - Math.floor(Math.random() * 1e9)).toISOString();
  const consumerReference = `consumer_${randomId()}`;
  sandboxes.circle.addFixtures({ payments: [{ id: paymentId, settleDelayMs: options.settleDelayMs }] });
  sandboxes.stripeClimate.addFixtures({ orders: [{ id: orderId, ageSeconds: options.stripeAgeSeconds ?? 3600 }] });
  sandboxes.impactRecon.addFixtures({
    allocations: [
      {
        fundsAllocationId: allocationId,
        consumerReference,
        fundsDateTime: new Date(Date.now() - 60_000).toISOString(),
        ...(options.reversal && { reversalBehaviour: options.reversal }),
      },
    ],
  });
  sandboxes.oneClickImpact.addFixtures({
    impacts: [{ user_id: 'U42', time_utc: timeUtc, tree_planted: 3, fundsAllocationId: allocationId }],
  });
  return {
    orderId: `ord_${randomId()}`,
    reason: 'order refunded',
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle' as const, paymentId },
    carbon: { provider: 'stripe_climate' as const, orderId },
    impact: { provider: '1clickimpact' as const, userId: 'U42', timeUtc },
    recon: { fundsAllocationId: allocationId, consumerReference },
  };
}
