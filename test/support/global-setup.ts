/**
 * Once per test run: make sure both Temporal servers exist, start one dev server (parallel `createLocal()` calls race),
 * register the saga's search attributes on it, and bundle the workflows once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import { ensureTemporalCli, ensureTestServer, toExecutable } from '../../src/stack/temporal-binaries';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/worker';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    testServerPath: string | undefined;
  }
}

const log = (line: string) => console.log(`[temporal] ${line}`);

export default async function setup(project: TestProject) {
  const [cli, testServer] = await Promise.all([ensureTemporalCli(log), ensureTestServer(log)]);
  const devServer = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: toExecutable(cli),
      searchAttributes: REFUND_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-test-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(__dirname, '..', 'workflows', 'index.ts'),
    // The saga's production bundle carries these whether tracing is on or not; the tests run the same code.
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: { trace() {}, debug() {}, info() {}, warn: log, error: log, log() {} },
  });
  writeFileSync(bundlePath, code);

  project.provide('temporalAddress', devServer.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('testServerPath', testServer.path);

  return async () => {
    await devServer.teardown();
    rmSync(dir, { recursive: true, force: true });
  };
}
