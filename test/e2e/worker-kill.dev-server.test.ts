/**
 * A worker process killed (SIGKILL) while a provider call is in flight: the attempt is given up when its heartbeats
 * stop, not after its 30 s start-to-close timeout, and another worker retries it with the same key, so the provider
 * records one cancellation.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRefund } from '../../src/client';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import type { refundSaga } from '../../src/workflows';
import { startProcess, workerEnv, type StartedProcess } from '../support/processes';
import { startTestSandboxes } from '../support/sandboxes';
import { FAST_POLLING, seedOrder } from '../support/stack';

const { EventType, TimeoutType } = temporal.api.enums.v1;

let sandboxes: RunningSandboxes;
let connection: Connection;
let client: Client;
const workers: StartedProcess[] = [];

beforeAll(async () => {
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 100 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 100 });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});

afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await sandboxes?.close();
  await connection?.close();
});

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a worker killed mid-call (dev server, worker processes)', () => {
  it('retries the cut-off cancel on another worker once its heartbeats stop, and the provider cancels once', async () => {
    const taskQueue = `worker-kill-${randomUUID()}`;
    const env = workerEnv(inject('temporalAddress'), taskQueue, sandboxes.urls);
    const first = await startProcess('worker', env, /worker polling/);
    workers.push(first);

    // The Stripe cancel gets no answer: the worker is killed while it waits.
    const request = seedOrder(sandboxes);
    sandboxes.stripeClimate.addFault({ route: 'cancelOrder', hang: true, failNext: 1 });
    const started = await startRefund(client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = client.workflow.getHandle<typeof refundSaga>(started.workflowId);
    await until(async () => {
      const { raw } = await handle.describe();
      return (raw.pendingActivities ?? []).some(
        (a) =>
          a.activityType?.name === 'cancelStripeClimateOrder' &&
          a.attempt === 1 &&
          // Running for a second: past its read of the order, waiting on the cancel that hangs.
          a.lastHeartbeatTime,
      );
    }, 'the Stripe cancel is in flight');
    first.kill('SIGKILL');

    const second = await startProcess('worker', env, /worker polling/);
    workers.push(second);
    const result = await handle.result();

    expect(result).toMatchObject({ outcome: 'completed', carbon: { outcome: 'reversed' } });
    expect(sandboxes.stripeClimate.ledgerEntries(request.carbon.orderId).map((e) => e.effect)).toEqual([
      'cancellation',
    ]);
    // The retry came from the heartbeat timeout, not from the attempt's whole start-to-close timeout.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'cancelStripeClimateOrder',
    );
    const retried = events.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
    )?.activityTaskStartedEventAttributes;
    expect(retried?.attempt).toBe(2);
    expect(retried?.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  });
});
