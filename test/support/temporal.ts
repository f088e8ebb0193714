/** Per-test access to the run's Temporal servers and workflow bundle. */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { registerSearchAttributes } from '../../src/stack/search-attributes';
import { NO_TRACING_SINKS } from '../../src/worker';

/** A client environment on the run's shared dev server (real server, real time). */
export function devServerEnvironment(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
}

/**
 * A fresh time-skipping test server for one test file, with the saga's search attributes registered; time skipping is
 * global to it, so tests in a file run serially.
 */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const path = inject('testServerPath');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: path ? { type: 'existing-path', path } : { type: 'cached-download' } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

let bundle: { code: string } | undefined;
/** The workflows bundled once per run by the global setup. */
export function workflowBundle(): { code: string } {
  bundle ??= { code: readFileSync(inject('workflowBundlePath'), 'utf8') };
  return bundle;
}

/** A task queue no other test uses. */
export function uniqueTaskQueue(name: string): string {
  return `${name}-${randomUUID()}`;
}

/** Runs `body` with a worker (bundled workflows, given activities) on a fresh task queue, then stops the worker. */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  activities: object,
  body: (taskQueue: string) => Promise<T>,
  name = 'test',
): Promise<T> {
  const taskQueue = uniqueTaskQueue(name);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: workflowBundle(),
    activities,
    sinks: NO_TRACING_SINKS,
  });
  return worker.runUntil(body(taskQueue));
}
