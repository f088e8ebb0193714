/**
 * `npm run chaos [-- --quick] [--cluster] [--seed N]`: fault injection against the project's own stack (the dev server,
 * or with `--cluster` a self-hosted Temporal cluster on PostgreSQL), judged by the providers' ledgers and the sagas'
 * results and histories. Writes `reports/chaos-<date>[-cluster][-quick].md` and `.json`, and exits 1 when any saga is
 * stuck, failed, duplicated, missing an effect or hiding one, when a history shows non-determinism, or when bad input
 * or an operator's override got a 5xx.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { startRefund } from '../../src/client';
import type { RefundRequest, RefundSagaOptions } from '../../src/domain';
import { badInputScenario, type BadInputFigures } from './bad-input';
import { judgeSaga, percentile, readLedgers, recovery, type SagaVerdict } from './judge';
import { seedRandom } from './random';
import {
  killStorm,
  operatorStorm,
  providerFaults,
  sandboxRestarts,
  seedOrder,
  serverRestarts,
  type CarbonKind,
  type Chaos,
  type ChaosOutcome,
} from './scenarios';
import { sleep } from './processes';
import { startChaosStack, type ChaosStack } from './stack';

const ROOT = join(__dirname, '..', '..');
const quick = process.argv.includes('--quick');
const cluster = process.argv.includes('--cluster');
const seedArg = process.argv.indexOf('--seed');
const initialSeed = seedArg > 0 ? Number(process.argv[seedArg + 1]) : Date.now() % 100_000;
seedRandom(initialSeed);

const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Poll fast so the whole story plays out in seconds; deadlines long enough that nothing expires by design. */
const SAGA_OPTIONS = {
  pollInitialMs: 500,
  pollMaxMs: 2000,
  settlementDeadlineMs: 1_800_000,
  reconDeadlineMs: 1_800_000,
};

/** Starts a saga, again while the server is down (the start is idempotent: the same request is the same saga). */
async function start(stack: ChaosStack, request: RefundRequest, sagaOptions: RefundSagaOptions): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await startRefund(stack.client, request, { taskQueue: stack.taskQueue, sagaOptions });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(1000);
    }
  }
}

interface ScenarioFigures {
  name: string;
  sagas: number;
  completed: number;
  aborted: number;
  stuck: number;
  failed: number;
  duplicates: number;
  missing: number;
  unreported: number;
  nonDeterminism: number;
  workflowTaskFailures: number;
  kills: number;
  notes: string[];
  recoveryNextTaskMs: { p50?: number; p99?: number };
  recoveryAffectedMs: { p50?: number; p99?: number };
  /** The same, over the recoveries that no second fault overtook. */
  recoveryAffectedAloneMs: { p50?: number; p99?: number };
  slowestRecoveries: Array<{ orderId: string; ms: number; inFlight: string; laterFaults: number }>;
  seconds: number;
  problems: string[];
}

interface ScenarioPlan {
  name: string;
  count: number;
  /** Starts are spread over this long, so sagas are in every state when the faults strike. */
  spreadMs: number;
  chaos: Chaos;
  carbon?: (n: number) => CarbonKind;
  sagaOptions?: RefundSagaOptions;
  /** Operators abort some sagas on purpose: an aborted saga is no problem. */
  abortsExpected?: boolean;
}

/** Starts the plan's sagas, runs its chaos while they run, waits for them to end, and judges them. */
async function sagaScenario(stack: ChaosStack, plan: ScenarioPlan): Promise<ScenarioFigures> {
  const { name, count, spreadMs } = plan;
  const began = Date.now();
  log(`${name}: seeding and starting ${count} sagas`);
  const requests: RefundRequest[] = [];
  let finished = false;
  const chaosRun = plan.chaos({ done: () => finished, requests });
  let open = count;
  let outcome: ChaosOutcome = { faults: [], problems: [], notes: [] };
  try {
    for (let n = 0; n < count; n++) {
      const request = await seedOrder(stack, n, name.replace(/[^a-z]/g, ''), plan.carbon?.(n));
      await start(stack, request, { ...SAGA_OPTIONS, ...plan.sagaOptions });
      requests.push(request);
      await sleep(spreadMs / count);
    }
    const deadline = Date.now() + (quick ? 150_000 : 300_000);
    while (Date.now() < deadline) {
      const query = `ExecutionStatus = 'Running' AND OrderId IN (${requests.map((r) => `'${r.orderId}'`).join(',')})`;
      open = await stack.client.workflow.count(query).then(
        (r) => r.count,
        () => open,
      );
      if (open === 0) break;
      await sleep(2000);
    }
  } finally {
    finished = true;
    // The chaos stops at its next step.
    outcome = await chaosRun.catch((err: unknown) => ({
      faults: [],
      problems: [`the scenario's chaos failed: ${(err as Error).message}`],
      notes: [],
    }));
  }
  log(`${name}: ${requests.length - open} of ${requests.length} ended; judging`);
  const ledgers = await readLedgers(stack);
  const verdicts: SagaVerdict[] = [];
  for (const request of requests) verdicts.push(await judgeSaga(stack.client, request, ledgers));
  const { toNextTask, affected, alone, slowest } = recovery(outcome.faults, verdicts);
  const count_ = (status: SagaVerdict['status']) => verdicts.filter((v) => v.status === status).length;
  const sum = (of: (v: SagaVerdict) => number) => verdicts.reduce((n, v) => n + of(v), 0);
  const problems = [
    ...outcome.problems,
    ...verdicts.flatMap((v) => [
      ...(v.status !== 'completed' && !(plan.abortsExpected && v.status === 'aborted')
        ? [`${v.orderId}: ${v.status}${v.why ? ` (${v.why})` : ''}`]
        : []),
      ...v.duplicates.map((r) => `${v.orderId}: duplicate effect on ${r}`),
      ...v.missing.map((r) => `${v.orderId}: no effect on ${r}`),
      ...v.unreported.map((r) => `${v.orderId}: effect not reported as reversed on ${r}`),
      ...(v.nonDeterminism ? [`${v.orderId}: non-determinism`] : []),
    ]),
  ];
  return {
    name,
    sagas: requests.length,
    completed: count_('completed'),
    aborted: count_('aborted'),
    stuck: count_('running') + count_('needs_attention'),
    failed: count_('failed') + count_('terminated') + count_('other'),
    duplicates: sum((v) => v.duplicates.length),
    missing: sum((v) => v.missing.length),
    unreported: sum((v) => v.unreported.length),
    nonDeterminism: sum((v) => v.nonDeterminism),
    workflowTaskFailures: sum((v) => v.workflowTaskFailures),
    kills: outcome.faults.length,
    notes: outcome.notes,
    recoveryNextTaskMs: { p50: percentile(toNextTask, 50), p99: percentile(toNextTask, 99) },
    recoveryAffectedMs: { p50: percentile(affected, 50), p99: percentile(affected, 99) },
    recoveryAffectedAloneMs: { p50: percentile(alone, 50), p99: percentile(alone, 99) },
    slowestRecoveries: slowest,
    seconds: Math.round((Date.now() - began) / 1000),
    problems,
  };
}

function table(figures: ScenarioFigures[], badInput: BadInputFigures): string {
  const fmt = (v?: number) => (v === undefined ? '–' : String(v));
  const rows = figures.map(
    (f) =>
      `| ${f.name} | ${f.sagas} | ${f.completed} | ${f.aborted} | ${f.stuck} | ${f.failed} | ${f.duplicates} | ${f.missing} | ${f.unreported} | ${f.nonDeterminism} | ${f.workflowTaskFailures} | ${f.kills} | ${fmt(f.recoveryNextTaskMs.p50)} / ${fmt(f.recoveryNextTaskMs.p99)} | ${fmt(f.recoveryAffectedMs.p50)} / ${fmt(f.recoveryAffectedMs.p99)} | ${fmt(f.recoveryAffectedAloneMs.p50)} / ${fmt(f.recoveryAffectedAloneMs.p99)} | ${f.seconds} |`,
  );
  return [
    '| scenario | sagas | completed | aborted | stuck | failed | duplicate effects | missing effects | unreported effects | non-determinism | workflow-task failures | faults | next task after a fault, ms p50 / p99 | affected saga progress after a fault, ms p50 / p99 | the same, no second fault before it, ms p50 / p99 | s |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...rows,
    '',
    ...figures.flatMap((f) => f.notes.map((note) => `- ${f.name}: ${note}`)),
    `- bad input: ${badInput.requests} malformed requests across ${badInput.routes} routes: ${badInput.status4xx} answered 4xx in the error envelope, ${badInput.status5xx} 5xx, ${badInput.notEnvelope} not in the envelope, ${badInput.noAnswer} with no answer; workflows started by them: ${badInput.workflowsStarted}.`,
  ].join('\n');
}

/** The scenarios, sized for a full run (at most 20 min here) or a quick one (at most 4 min). */
function plans(stack: ChaosStack): ScenarioPlan[] {
  const size = <T>(full: T, small: T) => (quick ? small : full);
  // A kill about every 10 s: with two workers, each one is down a tenth of the time.
  const storm = size({ count: 60, kills: 24, ms: 240_000 }, { count: 20, kills: 8, ms: 45_000 });
  const faults = size({ count: 30, kills: 8, ms: 60_000 }, { count: 10, kills: 2, ms: 15_000 });
  const server = size({ count: 20, restarts: 6, ms: 70_000 }, { count: 8, restarts: 2, ms: 20_000 });
  const sandbox = size({ count: 20, restarts: 6, ms: 40_000 }, { count: 8, restarts: 2, ms: 12_000 });
  const operators = size({ count: 20, ms: 45_000 }, { count: 8, ms: 15_000 });
  return [
    {
      name: 'worker kill storm',
      count: storm.count,
      spreadMs: storm.ms,
      chaos: killStorm(stack, storm.kills, storm.ms),
    },
    {
      name: 'provider faults',
      count: faults.count,
      spreadMs: faults.ms,
      chaos: providerFaults(stack, faults.kills, faults.ms),
    },
    {
      name: 'Temporal server restarts',
      count: server.count,
      spreadMs: server.ms,
      chaos: serverRestarts(stack, server.restarts, server.ms),
    },
    {
      name: 'sandbox restarts',
      count: sandbox.count,
      spreadMs: sandbox.ms,
      chaos: sandboxRestarts(stack, sandbox.restarts, sandbox.ms),
    },
    {
      name: 'operator storm',
      count: operators.count,
      spreadMs: operators.ms / 2,
      chaos: operatorStorm(stack, operators.ms),
      // A third of the orders block on a closed Stripe window; payments block after 10 s of failures.
      carbon: (n) => (n % 3 === 0 ? 'stale_stripe' : n % 3 === 1 ? 'squake' : 'stripe'),
      sagaOptions: { outageEscalationMs: 10_000 },
      abortsExpected: true,
    },
  ];
}

async function main() {
  const began = Date.now();
  log(`${quick ? 'quick' : 'full'} run, seed ${initialSeed}; building the package`);
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-chaos-'));
  const stack = await startChaosStack(dir, 2, log, { cluster });
  log(`stack up: Temporal ${stack.address}, API ${stack.apiUrl}, ${stack.workers.length} workers`);
  const figures: ScenarioFigures[] = [];
  let badInput: BadInputFigures;
  try {
    for (const plan of plans(stack)) figures.push(await sagaScenario(stack, plan));
    badInput = await badInputScenario(stack, quick ? 200 : 400);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const failed = figures.some((f) => f.problems.length) || badInput.problems.length > 0;
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${hostname()}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
  const report = {
    date,
    mode: quick ? 'quick' : 'full',
    seed: initialSeed,
    machine,
    temporal: stack.server,
    minutes: Math.round((Date.now() - began) / 6000) / 10,
    verdict: failed ? 'FAILED' : 'passed',
    scenarios: figures,
    badInput,
  };
  const md = [
    `# Chaos run ${date} (${report.mode}, ${cluster ? 'cluster' : 'dev server'})`,
    '',
    `Temporal: ${stack.server}.`,
    '',
    `${report.verdict}: seed ${initialSeed}, ${report.minutes} min on ${machine}.`,
    '',
    table(figures, badInput),
    '',
    ...(failed
      ? [
          '## Problems',
          '',
          ...figures.flatMap((f) => f.problems.map((p) => `- ${f.name}: ${p}`)),
          ...badInput.problems.map((p) => `- bad input: ${p}`),
        ]
      : []),
  ].join('\n');
  const reports = join(ROOT, 'reports');
  mkdirSync(reports, { recursive: true });
  const base = join(reports, `chaos-${date}${cluster ? '-cluster' : ''}${quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${md}\n`);
  console.log(`\n${md}\n\nwritten: ${base}.md and .json`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
