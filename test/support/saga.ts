/** Helpers for refund-saga tests: a worker with given activities, and waiting on the saga's state. */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RefundActivities } from '../../src/activities';
import { statusQuery, type SagaStatusView } from '../../src/domain';
import { withWorker } from './temporal';

/** Activities that all succeed on the first call; tests override the ones they exercise. */
export function succeedingActivities(overrides: Partial<RefundActivities> = {}): RefundActivities {
  return {
    cancelCirclePayment: () =>
      Promise.resolve({
        cancelId: 'cancel-1',
        status: 'pending',
        amount: { value: '12.60', currency: 'USD' },
        byThisSaga: true,
      }),
    getCircleCancelStatus: () =>
      Promise.resolve({ cancelId: 'cancel-1', status: 'confirmed', amount: { value: '12.60', currency: 'USD' } }),
    cancelStripeClimateOrder: () =>
      Promise.resolve({
        outcome: 'reversed',
        refunded: { value: '5.50', currency: 'USD' },
        feesNotRefunded: { value: '0.17', currency: 'USD' },
        tonnes: '0.01',
      }),
    cancelSquakePurchase: () =>
      Promise.resolve({ outcome: 'reversed', refunded: { value: '12.50', currency: 'EUR' }, tonnes: '0.5' }),
    cancelImpact: () =>
      Promise.resolve({ outcome: 'reversed', cancelledOn: '2026-11-22T12:00:00.000Z', reversed: { trees: 10 } }),
    findReconReversal: () =>
      Promise.resolve({ kind: 'matched', recordId: 'rev-1', fundsDateTime: '2026-11-22T12:05:00Z', scanned: 2 }),
    // A worker without vouching keys: every override is taken.
    verifyOverride: () => Promise.resolve({ accepted: true, vouched: false }),
    ...overrides,
  };
}

/** Runs `body` with a saga worker on a fresh task queue, stopping the worker afterwards. */
export function withSagaWorker<T>(
  env: TestWorkflowEnvironment,
  activities: RefundActivities,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  return withWorker(env, activities, body, 'saga');
}

/** Polls the `status` query until `predicate` holds; fails with the last status after `timeoutMs`. */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (status: SagaStatusView) => boolean,
  timeoutMs = 15_000,
): Promise<SagaStatusView> {
  const deadline = Date.now() + timeoutMs;
  let last: SagaStatusView | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `saga did not reach the expected state in ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 2)}`,
  );
}

/** Counts calls and lets a stub behave by call number. */
export function counted<A extends unknown[], R>(fn: (call: number, ...args: A) => Promise<R>) {
  const calls: A[] = [];
  const stub = (...args: A) => {
    calls.push(args);
    return fn(calls.length, ...args);
  };
  return Object.assign(stub, { calls });
}
