import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessProbe } from './workflows';
import { devServerEnvironment, timeSkippingEnvironment, withWorker } from './support/temporal';

const DAY_MS = 24 * 60 * 60 * 1000;
const activities = { echo: (value: string) => Promise.resolve(`echo:${value}`) };

function runProbe(env: TestWorkflowEnvironment, sleepMs: number) {
  return withWorker(env, activities, (taskQueue) =>
    env.client.workflow.execute(harnessProbe, { taskQueue, workflowId: taskQueue, args: [sleepMs, 'hello'] }),
  );
}

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await timeSkippingEnvironment();
  });
  afterAll(() => env?.teardown());

  it('sleeps a simulated day without waiting a real day', async () => {
    const wallStart = performance.now();
    const result = await runProbe(env, DAY_MS);
    const wallMs = performance.now() - wallStart;

    expect(result.echoed).toBe('echo:hello');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(DAY_MS);
    // Not a performance bound: without time skipping this would take 24 h, so any result in seconds proves it.
    expect(wallMs).toBeLessThan(30_000);
  });
});

describe('dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await devServerEnvironment();
  });
  afterAll(() => env?.teardown());

  it('runs a workflow and its activity on a real server in real time', async () => {
    const result = await runProbe(env, 200);
    expect(result).toEqual({ elapsedMs: expect.any(Number) as number, echoed: 'echo:hello' });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(200);
  });

  it('has the saga search attributes registered, so visibility queries on them work', async () => {
    const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(customAttributes)).toEqual(
      expect.arrayContaining([
        'RefundStatus',
        'RefundStep',
        'OrderId',
        'CarbonProvider',
        'NeedsAttention',
        'CirclePaymentId',
      ]),
    );
  });
});
