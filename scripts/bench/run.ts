/**
 * `npm run bench [-- --quick] [--n N] [--k K] [--rate R] [--rounds R] [--idle-ms MS] [--label X]`: what the saga costs
 * against a bare baseline workflow with the same five activities, on the bench's own stack (a dev server, the
 * sandboxes, one compiled worker process serving both). Burst throughput, steady-rate latency, CPU, history events and
 * billable actions per workflow, the cost of a poll cycle, worker memory with K waiting workflows, and replay time.
 * Writes `bench/results/<date>[-quick][-label].json` and prints a markdown table. No figure is asserted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { format, resolveConfig } from 'prettier';
import { workerConfig } from '../../src/config';
import type { HistoryCount } from './measure';
import {
  runBatch,
  runMemory,
  runPollCycles,
  timeReplay,
  type BatchOutcome,
  type BatchResult,
  type Kind,
  type MemoryResult,
  type PollCycleResult,
  type ReplayResult,
} from './phases';
import { profileWindows, type ThreadProfile } from './profile';
import { buildBundle, buildPackage, ROOT, startBenchStack, type BenchStack } from './stack';

const USAGE = `npm run bench -- [--quick] [--n N] [--k K] [--rate R] [--rounds R] [--idle-ms MS] [--label X] [--profile]
  --n N         workflows per throughput phase (default 500; quick 60)
  --k K         waiting workflows in the memory phase (default 10000; quick 400)
  --rate R      steady starts per second (default: half the saga's burst throughput)
  --rounds R    burst rounds, each baseline then saga (default 2; quick 1)
  --idle-ms MS  idle time before the last RSS reading (default 60000; quick 10000)
  --label X     appended to the result file's name
  --profile     CPU-profile the worker and break its CPU per workflow in each burst down by category
  --quick       a smoke run: the quick defaults above, written to <date>-quick.json`;

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const KNOWN = ['--quick', '--n', '--k', '--rate', '--rounds', '--idle-ms', '--label', '--profile'];
for (const a of argv) {
  if (a.startsWith('--') && !KNOWN.includes(a)) {
    console.error(`unknown flag ${a}\n${USAGE}`);
    process.exit(2);
  }
}
const quick = argv.includes('--quick');
function flag(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
function numberFlag(name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    console.error(`--${name} must be a number of at least ${min} (got ${raw})\n${USAGE}`);
    process.exit(2);
  }
  return value;
}
const flags = {
  quick,
  n: Math.round(numberFlag('n', quick ? 60 : 500, 1)!),
  k: Math.round(numberFlag('k', quick ? 400 : 10_000, 4)!),
  rate: numberFlag('rate', undefined, 0.1),
  rounds: Math.round(numberFlag('rounds', quick ? 1 : 2, 1)!),
  idleMs: Math.round(numberFlag('idle-ms', quick ? 10_000 : 60_000, 0)!),
  label: flag('label'),
  profile: argv.includes('--profile'),
};
if (flags.label !== undefined && !/^[\w.-]{1,40}$/.test(flags.label)) {
  console.error(`--label must be 1-40 letters, digits, ".", "_" or "-" (got ${flags.label})`);
  process.exit(2);
}

const began = Date.now();
const log = (line: string) =>
  console.log(
    `[bench ${new Date().toISOString().slice(11, 19)} +${((Date.now() - began) / 1000).toFixed(0)}s] ${line}`,
  );

const durations: Record<string, number> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    durations[name] = Math.round((Date.now() - t) / 100) / 10;
  }
}

const KINDS: Kind[] = ['baseline', 'saga'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Per-run costs over the burst rounds of one kind. */
function costsOf(results: BatchResult[]) {
  const counts = results.map((r) => r.histories.mean);
  const keys = Object.keys(counts[0] ?? {}) as Array<keyof HistoryCount>;
  const histories = Object.fromEntries(keys.map((k) => [k, mean(counts.map((c) => c[k]))])) as unknown as HistoryCount;
  const byType: Record<string, number> = {};
  for (const r of results)
    for (const [t, v] of Object.entries(r.actionMetricPerRunByType)) byType[t] = (byType[t] ?? 0) + v / results.length;
  const metricPerRun = mean(results.map((r) => r.actionMetricPerRun));
  const heartbeats =
    (byType.grpc_RecordActivityTaskHeartbeat ?? 0) + (byType.grpc_RecordActivityTaskHeartbeatById ?? 0);
  const queries = byType.grpc_QueryWorkflow ?? 0;
  return {
    workerCpuMs: mean(results.map((r) => r.cpuMsPerRun.worker)),
    serverCpuMs: mean(results.map((r) => r.cpuMsPerRun.server)),
    sandboxesCpuMs: mean(results.map((r) => r.cpuMsPerRun.sandboxes)),
    benchClientCpuMs: mean(results.map((r) => r.cpuMsPerRun.benchClient)),
    historyEvents: histories.events,
    billableActions: histories.billableActions,
    serverActionsFromHistories: histories.serverActions,
    histories,
    actionMetric: {
      perRun: metricPerRun,
      byTypePerRun: byType,
      heartbeatsPerRun: heartbeats,
      queriesPerRun: queries,
      /** Metric − (history's server count + heartbeats + queries): should be 0. */
      unexplainedPerRun: metricPerRun - (histories.serverActions + heartbeats + queries),
    },
  };
}
type Costs = ReturnType<typeof costsOf>;

function fmt(v: number | undefined, digits = 1): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const ratio = (b: number | undefined, s: number | undefined) =>
  b !== undefined && s !== undefined && Number.isFinite(b) && Number.isFinite(s) && b !== 0 ? s / b : undefined;

interface Row {
  figure: string;
  baseline?: number;
  saga?: number;
  ratio?: number;
  digits: number;
}

function markdownTable(rows: Row[]): string {
  const lines = ['| figure | baseline | saga | saga/baseline |', '| --- | ---: | ---: | ---: |'];
  for (const r of rows)
    lines.push(`| ${r.figure} | ${fmt(r.baseline, r.digits)} | ${fmt(r.saga, r.digits)} | ${fmt(r.ratio, 2)} |`);
  return lines.join('\n');
}

/** The worker's CPU per workflow by thread and category, baseline against saga, over the burst rounds. */
function profileTable(profile: Record<string, ThreadProfile[]>): string {
  const per = (kind: Kind, thread: ThreadProfile['thread'], category?: string) =>
    mean(
      Object.entries(profile)
        .filter(([label]) => label.endsWith(kind))
        .flatMap(([, threads]) => threads.filter((t) => t.thread === thread))
        .map((t) => (category ? (t.byCategoryMsPerWorkflow[category] ?? 0) : t.busyMsPerWorkflow)),
    );
  const lines = [
    'Worker CPU per workflow in the bursts, from its CPU profiles (ms):',
    '',
    '| thread | category | baseline | saga | saga − baseline |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const thread of ['workflow', 'main'] as const) {
    const categories = new Set(
      Object.values(profile).flatMap((threads) =>
        threads.filter((t) => t.thread === thread).flatMap((t) => Object.keys(t.byCategoryMsPerWorkflow)),
      ),
    );
    const rows = [...categories].map((c) => [c, per('baseline', thread, c), per('saga', thread, c)] as const);
    rows.sort((a, b) => b[2] - b[1] - (a[2] - a[1]));
    const b = per('baseline', thread);
    const sg = per('saga', thread);
    lines.push(`| ${thread} | **busy** | ${fmt(b, 1)} | ${fmt(sg, 1)} | ${fmt(sg - b, 1)} |`);
    for (const [c, bc, sc] of rows)
      lines.push(`| ${thread} | ${c} | ${fmt(bc, 2)} | ${fmt(sc, 2)} | ${fmt(sc - bc, 2)} |`);
  }
  return lines.join('\n');
}

function machine(temporalVersion: string) {
  const cpu = cpus();
  return {
    hostname: hostname(),
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    temporal: temporalVersion,
  };
}

/** The commit and whether the tree is dirty, read before the build: what the run measured (others may commit meanwhile). */
function git() {
  const run = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    commit: run('rev-parse', '--short', 'HEAD') || 'unknown',
    dirty: run('status', '--porcelain', '--untracked-files=no') !== '',
  };
}

/** `bench/results/<date>[-quick][-label].json`, with `-2`, `-3`… rather than overwrite. */
function resultPath(): string {
  const d = new Date();
  const date = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const base = [date, ...(flags.quick ? ['quick'] : []), ...(flags.label ? [flags.label] : [])].join('-');
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  for (let i = 1; ; i++) {
    const path = join(dir, `${base}${i === 1 ? '' : `-${i}`}.json`);
    if (!existsSync(path)) return path;
  }
}

const atStart = git();

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  log(
    `flags: n ${flags.n}, k ${flags.k}, rate ${flags.rate ?? 'auto'}, rounds ${flags.rounds}, idle ${flags.idleMs} ms`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'refund-saga-bench-'));
  let stack: BenchStack | undefined;
  const stop = () => {
    log('interrupted: stopping the stack');
    void (stack?.close() ?? Promise.resolve()).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const warnings: string[] = [];
  try {
    await timed('build', () => Promise.resolve(buildPackage(log)));
    const bundlePath = await timed('bundle', () => buildBundle(dir, log));
    const profileDir = flags.profile ? join(dir, 'profiles') : undefined;
    stack = await timed('stack start', () => startBenchStack(bundlePath, log, profileDir));
    const s = stack;

    // 1. Burst throughput, alternating baseline and saga, per round.
    const bursts: Record<Kind, BatchResult[]> = { baseline: [], saga: [] };
    const happy: Partial<Record<Kind, NonNullable<BatchOutcome['sampleHistory']>>> = {};
    for (let round = 1; round <= flags.rounds; round++) {
      for (const kind of KINDS) {
        const label = `burst r${round} ${kind}`;
        log(`${label}: ${flags.n} workflows, 50 starts in flight`);
        const out = await timed(label, () => runBatch(s, kind, flags.n, { burst: true }, label, log));
        bursts[kind].push(out.result);
        happy[kind] ??= out.sampleHistory;
      }
    }
    const sagaBurst = mean(bursts.saga.map((r) => r.throughput));
    const rate = flags.rate ?? Math.max(0.5, Math.round((sagaBurst / 2) * 10) / 10);

    // 2. Steady rate.
    const steady: Partial<Record<Kind, BatchResult>> = {};
    for (const kind of KINDS) {
      const label = `steady ${kind}`;
      log(`${label}: ${flags.n} workflows at ${rate}/s`);
      steady[kind] = (await timed(label, () => runBatch(s, kind, flags.n, { rate }, label, log))).result;
    }

    // 4. Poll cycles (the saga's; the baseline has none).
    log('poll cycles: 5 sagas whose recon reversal never appears, polling every 2 s');
    const poll = await timed('poll cycles', () => runPollCycles(s, 5, 6, log));

    // 5. Memory with K waiting workflows, each kind on a freshly started worker.
    const memory: Partial<Record<Kind, MemoryResult>> = {};
    for (const kind of KINDS) {
      log(`memory ${kind}: ${flags.k} waiting workflows`);
      memory[kind] = await timed(`memory ${kind}`, () => runMemory(s, kind, flags.k, flags.idleMs, log));
    }

    // 6. Replay of a happy path (each kind) and of a saga that polled recon several times.
    const replay: Record<string, ReplayResult | undefined> = {};
    await timed('replay', async () => {
      const cases = [
        ['baselineHappyPath', happy.baseline],
        ['sagaHappyPath', happy.saga],
        ['sagaPolled', poll.history],
      ] as const;
      for (const [name, h] of cases) {
        if (!h) continue;
        try {
          replay[name] = await timeReplay(s.bundlePath, h.workflowId, h.history, 20);
        } catch (err) {
          warnings.push(`replay of ${name} (${h.workflowId}) failed: ${(err as Error).message}`);
        }
      }
    });
    log(
      `replay: ${JSON.stringify(Object.fromEntries(Object.entries(replay).map(([k, v]) => [k, v?.warmMsPerReplay])))}`,
    );

    // The throughput phases' worker has exited (the memory phase restarts it), so its profiles are written.
    const profile = profileDir
      ? await profileWindows(
          profileDir,
          bundlePath,
          KINDS.flatMap((kind) =>
            bursts[kind].map((r, i) => ({ label: `burst r${i + 1} ${kind}`, ...r.window, workflows: r.completed })),
          ),
        )
      : undefined;
    const report = summarize({ s, bursts, steady, rate, poll: poll.result, memory, replay, profile, warnings });
    durations.total = Math.round((Date.now() - began) / 100) / 10;
    const path = resultPath();
    const json = JSON.stringify({ ...report.json, durationsSeconds: durations }, null, 2);
    writeFileSync(path, await format(json, { ...(await resolveConfig(path)), filepath: path }));
    console.log(`\n${report.text}\n`);
    console.log(
      `Durations (s): ${Object.entries(durations)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    console.log(`Written: ${path.slice(ROOT.length + 1)}`);
    if (warnings.length) console.log(`\nWarnings:\n${warnings.map((w) => `- ${w}`).join('\n')}`);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(input: {
  s: BenchStack;
  bursts: Record<Kind, BatchResult[]>;
  steady: Partial<Record<Kind, BatchResult>>;
  rate: number;
  poll: PollCycleResult;
  memory: Partial<Record<Kind, MemoryResult>>;
  replay: Record<string, ReplayResult | undefined>;
  profile?: Record<string, ThreadProfile[]>;
  warnings: string[];
}) {
  const { s, bursts, steady, rate, poll, memory, replay, profile, warnings } = input;
  const costs: Record<Kind, Costs> = { baseline: costsOf(bursts.baseline), saga: costsOf(bursts.saga) };
  const throughput = (kind: Kind) => mean(bursts[kind].map((r) => r.throughput));

  for (const kind of KINDS) {
    for (const r of [...bursts[kind], steady[kind]]) {
      if (!r) continue;
      if (r.completed !== r.n)
        warnings.push(`${r.mode} ${kind}: ${r.completed}/${r.n} completed (${JSON.stringify(r.notCompleted)})`);
      if (r.startErrors.length) warnings.push(`${r.mode} ${kind}: start errors: ${r.startErrors.join('; ')}`);
      if (r.workerExited) warnings.push(`${r.mode} ${kind}: the worker exited: ${r.workerExited}`);
    }
    const c = costs[kind];
    if (Math.abs(c.actionMetric.unexplainedPerRun) > 0.05)
      warnings.push(
        `${kind}: the action metric (${fmt(c.actionMetric.perRun, 2)}/run) differs from the histories' server count ` +
          `(${fmt(c.serverActionsFromHistories, 2)}) + heartbeats (${fmt(c.actionMetric.heartbeatsPerRun, 2)}) + queries ` +
          `(${fmt(c.actionMetric.queriesPerRun, 2)}) by ${fmt(c.actionMetric.unexplainedPerRun, 2)} per run`,
      );
    const m = memory[kind];
    if (m?.workerExited)
      warnings.push(`memory ${kind}: the worker exited with ${m.waiting}/${m.k} waiting: ${m.workerExited}`);
    if (m && m.waiting < m.k) warnings.push(`memory ${kind}: only ${m.waiting}/${m.k} reached their waiting point`);
    if (m && m.waiting >= m.k && Math.abs(m.timersPerWorkflow - 1) > 0.01)
      warnings.push(`memory ${kind}: ${fmt(m.timersPerWorkflow, 2)} timers per sampled workflow (expected 1)`);
  }
  if (Math.abs(costs.baseline.billableActions - 6) > 0.001)
    warnings.push(`baseline: ${fmt(costs.baseline.billableActions, 2)} billable actions per run (expected 6)`);

  const both = (figure: string, digits: number, of: (kind: Kind) => number | undefined): Row => {
    const baseline = of('baseline');
    const saga = of('saga');
    return { figure, baseline, saga, ratio: ratio(baseline, saga), digits };
  };
  const sagaOnly = (figure: string, digits: number, saga: number | undefined): Row => ({ figure, saga, digits });
  const k = flags.k;
  const rows: Row[] = [
    both('burst throughput (workflows/s)', 1, throughput),
    both(`steady p50 latency at ${rate}/s (ms)`, 0, (kind) => steady[kind]?.latencyMs.p50),
    both(`steady p95 latency at ${rate}/s (ms)`, 0, (kind) => steady[kind]?.latencyMs.p95),
    both(`steady p99 latency at ${rate}/s (ms)`, 0, (kind) => steady[kind]?.latencyMs.p99),
    both('worker CPU (ms/workflow)', 1, (kind) => costs[kind].workerCpuMs),
    both('server CPU (ms/workflow)', 1, (kind) => costs[kind].serverCpuMs),
    both('sandboxes CPU (ms/workflow)', 1, (kind) => costs[kind].sandboxesCpuMs),
    both('history events/workflow', 1, (kind) => costs[kind].historyEvents),
    both('billable actions/workflow (Cloud rules)', 2, (kind) => costs[kind].billableActions),
    both('server action metric/workflow', 2, (kind) => costs[kind].actionMetric.perRun),
    sagaOnly('poll cycle: history events', 1, poll.eventsPerCycle),
    sagaOnly('poll cycle: billable actions (Cloud rules)', 2, poll.billableActionsPerCycle),
    sagaOnly('poll cycle: server action metric', 2, poll.metric.actionsPerCycle),
    sagaOnly('poll cycle: heartbeat actions', 2, poll.metric.heartbeatsPerCycle),
    both('memory phase: workflows that reached their waiting point', 0, (kind) => memory[kind]?.waiting),
    both('worker RSS before the memory phase (MiB)', 0, (kind) => memory[kind]?.rssMiB.before),
    both(`worker RSS, ${Math.ceil(k / 4)} waiting (MiB)`, 0, (kind) => memory[kind]?.rssMiB.quarter),
    both(`worker RSS, ${Math.ceil(k / 2)} waiting (MiB)`, 0, (kind) => memory[kind]?.rssMiB.half),
    both(`worker RSS, ${k} waiting (MiB)`, 0, (kind) => memory[kind]?.rssMiB.all),
    both(
      `worker RSS, ${k} waiting, after ${flags.idleMs / 1000} s idle (MiB)`,
      0,
      (kind) => memory[kind]?.rssMiB.afterIdle,
    ),
    both('worker RSS, peak in the memory phase (MiB)', 0, (kind) => memory[kind]?.rssMiB.peak),
    both(
      `replay of a happy path, warm (ms; ${replay.baselineHappyPath?.events ?? '?'} / ${replay.sagaHappyPath?.events ?? '?'} events)`,
      2,
      (kind) => replay[`${kind}HappyPath`]?.warmMsPerReplay,
    ),
    both('replay of a happy path, runReplayHistory call (ms)', 0, (kind) => replay[`${kind}HappyPath`]?.perCallMs),
    sagaOnly(
      `replay of a saga after ${poll.cycles ? Math.round(poll.cycles / poll.sagas) : '?'} recon polls, warm (ms; ${replay.sagaPolled?.events ?? '?'} events)`,
      2,
      replay.sagaPolled?.warmMsPerReplay,
    ),
  ];

  const h = costs.saga.histories;
  const hb = costs.saga.actionMetric.heartbeatsPerRun;
  const breakdown = [
    ['start', h.starts],
    ['activities (scheduled)', h.activities],
    ['activity retries', h.activityRetries],
    ['timers', h.timers],
    ['search attribute upserts (but TemporalChangeVersion)', h.upserts],
    ['marker batches billed (side effects, local activities)', h.billableMarkerBatches],
    ['signals + updates', h.signals + h.updates],
    ['= billable actions (Cloud rules, from histories)', h.billableActions],
    ['heartbeats (metric; not in histories, billed by Cloud)', hb],
    ['TemporalChangeVersion upserts (server counts, Cloud exempts)', h.versionUpserts],
    ['marker batches the server counts (command_BatchMarkers)', h.markerBatches],
    [`  of ${fmt(h.markers, 1)} markers, version (patch) markers`, h.versionMarkers],
    ['memo upserts (server counts, Cloud list does not name)', h.memoUpserts],
    ['= server actions (histories) + heartbeats', h.serverActions + hb],
    ['server action metric', costs.saga.actionMetric.perRun],
  ] as const;
  const text = [
    `Benchmark: n ${flags.n}, k ${k}, rounds ${flags.rounds}, steady rate ${rate}/s${flags.rate ? '' : ' (half the saga burst)'}`,
    '',
    markdownTable(rows),
    '',
    'Saga actions per happy path, by kind:',
    '',
    '| kind | per saga |',
    '| --- | ---: |',
    ...breakdown.map(([kind, v]) => `| ${kind} | ${fmt(v, 2)} |`),
    '',
    `Server action metric per saga by type: ${Object.entries(costs.saga.actionMetric.byTypePerRun)
      .map(([t, v]) => `${t} ${fmt(v, 2)}`)
      .join(', ')}`,
    `Per poll cycle (saga): ${fmt(poll.perCycle.activities, 2)} activities, ${fmt(poll.perCycle.timers, 2)} timers, ` +
      `${fmt(poll.perCycle.upserts, 2)} upserts, ${fmt(poll.perCycle.markerBatches, 2)} marker batches; metric by type: ` +
      Object.entries(poll.metric.byTypePerCycle)
        .map(([t, v]) => `${t} ${fmt(v, 2)}`)
        .join(', '),
    `First poll cycle after the wait began (saga): ${fmt(poll.firstCycle.events, 1)} events, ` +
      `${fmt(poll.firstCycle.billableActions, 2)} billable actions (${fmt(poll.firstCycle.upserts, 2)} upserts)`,
    ...(profile ? ['', profileTable(profile)] : []),
  ].join('\n');

  const settingsEnv = { ...process.env, ...s.workerEnv };
  return {
    text,
    json: {
      date: new Date().toISOString(),
      label: flags.label ?? null,
      machine: machine(s.temporalVersion),
      git: atStart,
      flags: { ...flags, rate, rateSource: flags.rate ? 'flag' : 'half the saga burst throughput' },
      stack: {
        server: 'temporal server start-dev, in-memory SQLite, headless',
        sandboxes: 'one process (scripts/sandboxes.ts via tsx), state in memory',
        worker: 'one process: node scripts/bench/worker.cjs over dist/, serving refundSaga and baselineRefund',
        taskQueue: s.taskQueue,
        fixtures:
          'Circle payment settleDelayMs 0; Stripe Climate only (order 1 h old); 1ClickImpact impact linked to a recon ' +
          'allocation; recon reversalDelayMs 0 (throughput phases) or reversalBehaviour never (poll cycles, memory); ' +
          'sandboxes reset before each phase',
      },
      workerSettings: {
        nodeOptions: s.workerNodeOptions,
        env: Object.fromEntries(Object.entries(settingsEnv).filter(([key]) => key.startsWith('WORKER_'))),
        inEffect: workerConfig(settingsEnv),
        defaults: workerConfig({ WORKER_VERSIONING: 'off', METRICS_PORT: '0' }),
      },
      table: rows.map((r) => ({ figure: r.figure, baseline: r.baseline, saga: r.saga, ratio: r.ratio })),
      costs,
      burst: bursts,
      steady,
      pollCycle: poll,
      memory,
      replay,
      ...(profile && { profile }),
      warnings,
      markdown: text,
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
