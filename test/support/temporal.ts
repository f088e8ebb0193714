/** Per-test access to the run's Temporal servers and workflow bundle. */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { inject } from 'vitest';

/** A client environment on the run's shared dev server (real server, real time). */
export function devServerEnvironment(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
}

/** A fresh time-skipping test server for one test file; time skipping is global to it, so tests in a file run serially. */
export function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const path = inject('testServerPath');
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: path ? { type: 'existing-path', path } : { type: 'cached-download' } },
  });
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
