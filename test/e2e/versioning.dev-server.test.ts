/**
 * Worker Deployment Versioning on the dev server: a saga stays on the worker version that started it while new sagas
 * go to the new current version, and a saga started by an unversioned worker moves to the current version.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRefund } from '../../src/client';
import { skipStepUpdate } from '../../src/domain';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sagaWorkerOptions, type SagaWorkerVersion } from '../../src/worker';
import { setCurrentVersion } from '../../src/worker/versioning';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';
import { FAST_POLLING, seedOrder } from '../support/stack';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

let env: TestWorkflowEnvironment;
let sandboxes: RunningSandboxes;
beforeAll(async () => {
  env = await devServerEnvironment();
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 100 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 100 });
});
afterAll(async () => {
  await sandboxes.close();
  await env.teardown();
});

const who = { operator: 'ops@example.com', reason: 'refunded in the Stripe dashboard' };

/** A running saga worker on `taskQueue`, of `version` (unversioned without one). */
async function startWorker(taskQueue: string, version?: SagaWorkerVersion) {
  const worker = await Worker.create(
    sagaWorkerOptions(
      sandboxClients(sandboxes, 1000),
      { taskQueue, connection: env.nativeConnection, workflowBundle: workflowBundle() },
      { version },
    ),
  );
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
  };
}

async function buildIdOf(workflowId: string): Promise<string | undefined> {
  const { raw } = await env.client.workflow.getHandle(workflowId).describe();
  return raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId ?? undefined;
}

/** A saga blocked on a Stripe order past its 24 h window, waiting for an operator. */
async function blockedSaga(taskQueue: string) {
  const started = await startRefund(env.client, seedOrder(sandboxes, { stripeAgeSeconds: 90_000 }), {
    taskQueue,
    sagaOptions: FAST_POLLING,
  });
  const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);
  await waitForStatus(handle, (s) => s.status === 'needs_attention');
  return handle;
}

describe('worker deployment versioning (dev server)', () => {
  it('keeps a saga on the version that started it while new sagas start on the new current version', async () => {
    const taskQueue = uniqueTaskQueue('versioning');
    const deploymentName = `refund-saga-${randomUUID()}`;
    const v1 = { deploymentName, buildId: '1.0.0' };
    const v2 = { deploymentName, buildId: '2.0.0' };
    const stopV1 = await startWorker(taskQueue, v1);
    await setCurrentVersion(env.connection.workflowService, 'default', v1, 'test');
    const first = await blockedSaga(taskQueue);

    const stopV2 = await startWorker(taskQueue, v2);
    try {
      await setCurrentVersion(env.connection.workflowService, 'default', v2, 'test');
      const second = await startRefund(env.client, seedOrder(sandboxes), { taskQueue, sagaOptions: FAST_POLLING });
      const secondResult = await env.client.workflow.getHandle<typeof refundSaga>(second.workflowId).result();
      expect(secondResult.outcome).toBe('completed');
      expect(await buildIdOf(second.workflowId)).toBe('2.0.0');

      // The first saga is answered by its own version, still running next to the new one.
      await first.executeUpdate(skipStepUpdate, { args: [{ step: 'carbon', ...who }] });
      expect((await first.result()).outcome).toBe('completed');
      expect(await buildIdOf(first.workflowId)).toBe('1.0.0');
      const { raw } = await first.describe();
      const { VersioningBehavior } = temporal.api.enums.v1;
      expect(raw.workflowExecutionInfo?.versioningInfo?.behavior).toBe(VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
    } finally {
      await stopV2();
      await stopV1();
    }
  });

  it('moves a saga started by an unversioned worker to the current version once versioned workers take over', async () => {
    const taskQueue = uniqueTaskQueue('versioning-upgrade');
    const version = { deploymentName: `refund-saga-${randomUUID()}`, buildId: '1.0.0' };
    const stopUnversioned = await startWorker(taskQueue);
    const handle = await blockedSaga(taskQueue);
    await stopUnversioned();

    const stopV1 = await startWorker(taskQueue, version);
    try {
      await setCurrentVersion(env.connection.workflowService, 'default', version, 'test');
      await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'carbon', ...who }] });
      expect((await handle.result()).outcome).toBe('completed');
      expect(await buildIdOf(handle.workflowId)).toBe('1.0.0');
    } finally {
      await stopV1();
    }
  });
});
