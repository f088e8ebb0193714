/** Activity tests: the saga's real activities over the five sandboxes, run in a `MockActivityEnvironment`. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { createActivities } from '../../src/activities';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { sandboxClients, startTestSandboxes } from './sandboxes';

/** Starts the sandboxes for the file, resets them before each test, and builds the activities over them. */
export function useActivitySandboxes(): () => {
  sandboxes: RunningSandboxes;
  activities: ReturnType<typeof createActivities>;
} {
  let sandboxes: RunningSandboxes | undefined;
  let activities: ReturnType<typeof createActivities> | undefined;
  beforeAll(async () => {
    sandboxes = await startTestSandboxes();
    activities = createActivities(sandboxClients(sandboxes));
  });
  beforeEach(() => {
    const { circle, stripeClimate, squake, oneClickImpact, impactRecon } = sandboxes!;
    for (const s of [circle, stripeClimate, squake, oneClickImpact, impactRecon]) s.reset();
  });
  afterAll(() => sandboxes?.close());
  return () => ({ sandboxes: sandboxes!, activities: activities! });
}

/**
 * Runs an activity as attempt `attempt` of its execution (a retry after a lost answer is attempt 2). Failures are
 * what these tests provoke; the environment would log each one at WARN.
 */
export function runActivity<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  attempt: number,
  ...args: A
): Promise<R> {
  return new MockActivityEnvironment({ attempt }, { logger: new DefaultLogger('ERROR') }).run<A, R, typeof fn>(
    fn,
    ...args,
  );
}

/** Awaits an activity expected to fail, and returns its `ApplicationFailure`. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}
