// `npm run build`: compiles src/ to dist/ (tsc, CommonJS with types), then prebuilds the workflow bundle the worker
// loads (dist/workflow-bundle.js), so a worker never bundles the workflow code at start.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// The console's templates and assets are read at run time, beside its compiled code.
for (const dir of ['views', 'assets'])
  cpSync(join(root, 'src', 'console', dir), join(dist, 'console', dir), { recursive: true });

const { bundleWorkflowCode } = require('@temporalio/worker');
const logger = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };
const { WORKFLOW_INTERCEPTOR_MODULES } = require(join(dist, 'worker', 'index.js'));
const { code } = await bundleWorkflowCode({
  workflowsPath: join(dist, 'workflows', 'index.js'),
  workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  logger,
});
writeFileSync(join(dist, 'workflow-bundle.js'), code);
console.log(`built dist/ and dist/workflow-bundle.js (${(code.length / 1024).toFixed(0)} KiB)`);
