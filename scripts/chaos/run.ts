/**
 * `npm run chaos [-- --quick] [--seed N]`: fault injection against the project's own stack, judged by the providers'
 * ledgers and the sagas' results and histories. Writes `reports/chaos-<date>.md` and `.json`, and exits 1 when any
 * saga is stuck, failed, duplicated or missing an effect, when a history shows non-determinism, or when bad input got
 * a 5xx.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { startRefund } from '../../src/client';
import type { RefundRequest } from '../../src/domain';
import { badInputScenario, type BadInputFigures } from './bad-input';
import { judgeSaga, percentile, readLedgers, recovery, type SagaVerdict } from './judge';
import { sleep, startChaosStack, type ChaosStack } from './stack';

const ROOT = join(__dirname, '..', '..');
const quick = process.argv.includes('--quick');
const seedArg = process.argv.indexOf('--seed');
let seed = seedArg > 0 ? Number(process.argv[seedArg + 1]) : Date.now() % 100_000;
const initialSeed = seed;
/** A small deterministic generator, so a failing run can be repeated with `--seed`. */
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Poll fast so the whole story plays out in seconds; deadlines long enough that nothing expires by design. */
const SAGA_OPTIONS = {
  pollInitialMs: 500,
  pollMaxMs: 2000,
  settlementDeadlineMs: 1_800_000,
  reconDeadlineMs: 1_800_000,
};

async function admin(url: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/_sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${path} answered ${response.status}: ${await response.text()}`);
}

/** Seeds one order's resources (Stripe or SQUAKE, always impact and recon) and returns its refund request. */
async function seedOrder(stack: ChaosStack, n: number, scenario: string): Promise<RefundRequest> {
  const id = `${scenario}${n}${randomUUID().slice(0, 6)}`;
  const paymentId = randomUUID();
  const allocationId = randomUUID();
  const timeUtc = new Date(Date.now() - between(60, 86_000) * 1000).toISOString();
  const userId = `U${between(1, 9_999_999)}${n}`;
  const u = stack.sandboxUrls;
  await admin(u.circle, 'fixtures', { payments: [{ id: paymentId, settleDelayMs: between(500, 4000) }] });
  const squake = n % 2 === 1;
  if (squake) await admin(u.squake, 'fixtures', { purchases: [{ id: `purchase_${id}`, state: 'reserved' }] });
  else await admin(u.stripeClimate, 'fixtures', { orders: [{ id: `climorder_${id}`, ageSeconds: 3600 }] });
  await admin(u.impactRecon, 'fixtures', {
    allocations: [
      {
        fundsAllocationId: allocationId,
        consumerReference: `consumer_${id}`,
        fundsDateTime: new Date(Date.now() - 60_000).toISOString(),
      },
    ],
  });
  await admin(u.oneClickImpact, 'fixtures', {
    impacts: [{ user_id: userId, time_utc: timeUtc, tree_planted: 2, fundsAllocationId: allocationId }],
  });
  return {
    orderId: `ord_${id}`,
    reason: 'order refunded',
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId },
    carbon: squake
      ? { provider: 'squake', purchaseId: `purchase_${id}` }
      : { provider: 'stripe_climate', orderId: `climorder_${id}` },
    impact: { provider: '1clickimpact', userId, timeUtc },
    recon: { fundsAllocationId: allocationId, consumerReference: `consumer_${id}` },
  };
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
  nonDeterminism: number;
  workflowTaskFailures: number;
  kills: number;
  recoveryNextTaskMs: { p50?: number; p99?: number };
  recoveryAffectedMs: { p50?: number; p99?: number };
  seconds: number;
  problems: string[];
}

/** Starts `count` sagas, runs `chaos` while they run, waits for them to end, and judges them. */
async function sagaScenario(
  stack: ChaosStack,
  name: string,
  count: number,
  spreadMs: number,
  chaos: (done: () => boolean) => Promise<number[]>,
): Promise<ScenarioFigures> {
  const began = Date.now();
  log(`${name}: seeding and starting ${count} sagas`);
  const requests: RefundRequest[] = [];
  let finished = false;
  const chaosRun = chaos(() => finished);
  let open = count;
  let kills: number[] = [];
  try {
    for (let n = 0; n < count; n++) {
      const request = await seedOrder(stack, n, name.replace(/[^a-z]/g, ''));
      await startRefund(stack.client, request, { taskQueue: stack.taskQueue, sagaOptions: SAGA_OPTIONS });
      requests.push(request);
      // Starts spread over the chaos, so sagas are in every state when the faults strike.
      await sleep(spreadMs / count);
    }
    const deadline = Date.now() + (quick ? 150_000 : 300_000);
    while (Date.now() < deadline) {
      const query = `ExecutionStatus = 'Running' AND OrderId IN (${requests.map((r) => `'${r.orderId}'`).join(',')})`;
      open = (await stack.client.workflow.count(query)).count;
      if (open === 0) break;
      await sleep(2000);
    }
  } finally {
    finished = true;
    // The chaos stops at its next step; a run that failed keeps no kills to report.
    kills = await chaosRun.catch(() => []);
  }
  log(`${name}: ${requests.length - open} of ${requests.length} ended; judging`);
  const ledgers = await readLedgers(stack);
  const verdicts: SagaVerdict[] = [];
  for (const request of requests) verdicts.push(await judgeSaga(stack.client, request, ledgers));
  const { toNextTask, affected } = recovery(kills, verdicts);
  const count_ = (status: SagaVerdict['status']) => verdicts.filter((v) => v.status === status).length;
  const problems = verdicts.flatMap((v) => [
    ...(v.status !== 'completed' ? [`${v.orderId}: ${v.status}${v.why ? ` (${v.why})` : ''}`] : []),
    ...v.duplicates.map((r) => `${v.orderId}: duplicate effect on ${r}`),
    ...v.missing.map((r) => `${v.orderId}: no effect on ${r}`),
    ...(v.nonDeterminism ? [`${v.orderId}: non-determinism`] : []),
  ]);
  return {
    name,
    sagas: requests.length,
    completed: count_('completed'),
    aborted: count_('aborted'),
    stuck: count_('running') + count_('needs_attention'),
    failed: count_('failed') + count_('terminated') + count_('other'),
    duplicates: verdicts.reduce((n, v) => n + v.duplicates.length, 0),
    missing: verdicts.reduce((n, v) => n + v.missing.length, 0),
    nonDeterminism: verdicts.reduce((n, v) => n + v.nonDeterminism, 0),
    workflowTaskFailures: verdicts.reduce((n, v) => n + v.workflowTaskFailures, 0),
    kills: kills.length,
    recoveryNextTaskMs: { p50: percentile(toNextTask, 50), p99: percentile(toNextTask, 99) },
    recoveryAffectedMs: { p50: percentile(affected, 50), p99: percentile(affected, 99) },
    seconds: Math.round((Date.now() - began) / 1000),
    problems,
  };
}

/** The four cancel routes, by sandbox URL. */
const cancelRoutes = (stack: ChaosStack): Array<[string, string]> => [
  [stack.sandboxUrls.circle, 'cancelPayment'],
  [stack.sandboxUrls.stripeClimate, 'cancelOrder'],
  [stack.sandboxUrls.squake, 'cancelPurchase'],
  [stack.sandboxUrls.oneClickImpact, 'cancelImpact'],
];

/**
 * Scenario 1: SIGKILLs of worker processes at random moments, each restarted after 1–3 s. Cancels take 1.5 s, so
 * kills cut calls off in flight.
 */
function killStorm(stack: ChaosStack, kills: number, spreadMs: number, slowCancels = true) {
  return async (done: () => boolean): Promise<number[]> => {
    if (slowCancels)
      for (const [url, route] of cancelRoutes(stack)) await admin(url, 'faults', { route, latencyMs: 1500 });
    const at: number[] = [];
    for (let k = 0; k < kills && !done(); k++) {
      // A kill and its restart take about 3 s: the gaps leave room for them, so every kill falls while sagas start.
      const gap = Math.max(500, spreadMs / kills - 3000);
      await sleep(between(gap / 2, gap * 1.5));
      const worker = stack.workers[between(0, stack.workers.length - 1)]!;
      at.push(Date.now());
      await worker.stop('SIGKILL');
      await sleep(between(1000, 3000));
      await worker.start();
    }
    if (slowCancels)
      for (const [url] of cancelRoutes(stack)) await fetch(`${url}/_sandbox/faults`, { method: 'DELETE' });
    return at;
  };
}

/** Scenario 2: provider faults on every mutating route, on top of a smaller kill storm. */
function providerFaults(stack: ChaosStack, kills: number, spreadMs: number) {
  return async (done: () => boolean): Promise<number[]> => {
    const u = stack.sandboxUrls;
    const cancels = cancelRoutes(stack);
    for (const [url, route] of cancels) {
      await admin(url, 'faults', { route, errorRate: 0.2, status: 503 });
      await admin(url, 'faults', { route, errorRate: 0.1, status: 502, when: 'after' });
    }
    await admin(u.stripeClimate, 'faults', { route: 'retrieveOrder', failNext: 5, status: 429, retryAfterSeconds: 1 });
    await admin(u.circle, 'faults', { route: 'getPayment', failNext: 3, malformed: true });
    await admin(u.squake, 'faults', { route: 'cancelPurchase', failNext: 2, hang: true });
    const at = await killStorm(stack, kills, spreadMs, false)(done);
    while (!done()) await sleep(500);
    for (const [url] of cancels) await fetch(`${url}/_sandbox/faults`, { method: 'DELETE' });
    return at;
  };
}

function table(figures: ScenarioFigures[], badInput: BadInputFigures): string {
  const fmt = (v?: number) => (v === undefined ? '–' : String(v));
  const rows = figures.map(
    (f) =>
      `| ${f.name} | ${f.sagas} | ${f.completed} | ${f.aborted} | ${f.stuck} | ${f.failed} | ${f.duplicates} | ${f.missing} | ${f.nonDeterminism} | ${f.workflowTaskFailures} | ${f.kills} | ${fmt(f.recoveryNextTaskMs.p50)} / ${fmt(f.recoveryNextTaskMs.p99)} | ${fmt(f.recoveryAffectedMs.p50)} / ${fmt(f.recoveryAffectedMs.p99)} | ${f.seconds} |`,
  );
  return [
    '| scenario | sagas | completed | aborted | stuck | failed | duplicate effects | missing effects | non-determinism | workflow-task failures | kills | next task after a kill, ms p50 / p99 | affected saga progress after a kill, ms p50 / p99 | s |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...rows,
    '',
    `Bad input: ${badInput.requests} malformed requests across ${badInput.routes} routes: ${badInput.status4xx} answered 4xx in the error envelope, ${badInput.status5xx} 5xx, ${badInput.notEnvelope} not in the envelope, ${badInput.noAnswer} with no answer; workflows started by them: ${badInput.workflowsStarted}.`,
  ].join('\n');
}

async function main() {
  const began = Date.now();
  log(`${quick ? 'quick' : 'full'} run, seed ${initialSeed}; building the package`);
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-chaos-'));
  const stack = await startChaosStack(dir, 2, log);
  log(`stack up: Temporal ${stack.address}, API ${stack.apiUrl}, ${stack.workers.length} workers`);
  const figures: ScenarioFigures[] = [];
  let badInput: BadInputFigures;
  try {
    const storm = quick ? { sagas: 24, kills: 10, ms: 60_000 } : { sagas: 60, kills: 30, ms: 180_000 };
    figures.push(
      await sagaScenario(stack, 'worker kill storm', storm.sagas, storm.ms, killStorm(stack, storm.kills, storm.ms)),
    );
    const faults = quick ? { sagas: 12, kills: 3, ms: 20_000 } : { sagas: 30, kills: 8, ms: 60_000 };
    figures.push(
      await sagaScenario(
        stack,
        'provider faults',
        faults.sagas,
        faults.ms,
        providerFaults(stack, faults.kills, faults.ms),
      ),
    );
    badInput = await badInputScenario(stack, quick ? 200 : 400);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const failed =
    figures.some((f) => f.stuck || f.failed || f.duplicates || f.missing || f.nonDeterminism) ||
    badInput.status5xx > 0 ||
    badInput.noAnswer > 0 ||
    badInput.workflowsStarted > 0;
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${hostname()}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
  const report = {
    date,
    mode: quick ? 'quick' : 'full',
    seed: initialSeed,
    machine,
    temporal: 'dev server (Temporal CLI 1.5.1, server 1.29.1)',
    minutes: Math.round((Date.now() - began) / 6000) / 10,
    verdict: failed ? 'FAILED' : 'passed',
    scenarios: figures,
    badInput,
  };
  const md = [
    `# Chaos run ${date} (${report.mode}, dev server)`,
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
  const base = join(reports, `chaos-${date}${quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${md}\n`);
  console.log(`\n${md}\n\nwritten: ${base}.md and .json`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
