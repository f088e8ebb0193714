/**
 * The bench's phases: seeding orders in the sandboxes, starting baselines and sagas (bursts, at a steady rate, and
 * many that wait), waiting for them through visibility, and measuring each phase (CPU of the worker, the server and
 * the sandboxes from /proc, the server's action counter, histories).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { startRefund } from '../../src/client';
import type { RefundRequest, RefundSagaOptions } from '../../src/domain';
import { NO_TRACING_SINKS } from '../../src/worker';
import { sleep } from '../chaos/processes';
import { admin } from '../chaos/scenarios';
import {
  addCounts,
  countEvents,
  countHistory,
  diffCounts,
  groupCpuMs,
  isTimerStarted,
  meanCounts,
  percentile,
  rssMiB,
  scaleCounts,
  scrapeActions,
  sum,
  type HistoryCount,
} from './measure';
import type { BenchStack } from './stack';
import type { BaselineInput } from './workflows';

type History = temporal.api.history.v1.IHistory;

export type Kind = 'baseline' | 'saga';
export const WORKFLOW_TYPE: Record<Kind, string> = { baseline: 'baselineRefund', saga: 'refundSaga' };

export type Log = (line: string) => void;

/** One order's sandbox fixtures. */
export interface Order {
  orderId: string;
  paymentId: string;
  carbonOrderId: string;
  userId: string;
  timeUtc: string;
  fundsAllocationId: string;
  consumerReference: string;
}

let userSeq = 1_000_000 + Math.floor(Math.random() * 1_000_000);

function newOrder(tag: string, i: number): Order {
  const id = `${tag}${i}x${randomUUID().slice(0, 6).replace(/-/g, '')}`;
  return {
    orderId: `ord_${id}`,
    paymentId: randomUUID(),
    carbonOrderId: `climorder_${id}`,
    userId: `U${userSeq++}`,
    timeUtc: new Date(Date.now() - 3_600_000 - i).toISOString(),
    fundsAllocationId: randomUUID(),
    consumerReference: `consumer_${id}`,
  };
}

export const workflowIdOf = (kind: Kind, order: Order) =>
  kind === 'saga' ? `refund-${order.orderId}` : `baseline-${order.orderId}`;

/** The happy path's request: Stripe Climate only (a young order), impact and recon. */
export function sagaRequest(o: Order): RefundRequest {
  return {
    orderId: o.orderId,
    reason: 'bench',
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId: o.paymentId },
    carbon: { provider: 'stripe_climate', orderId: o.carbonOrderId },
    impact: { provider: '1clickimpact', userId: o.userId, timeUtc: o.timeUtc },
    recon: { fundsAllocationId: o.fundsAllocationId, consumerReference: o.consumerReference },
  };
}

function baselineInput(o: Order, waitMs?: number): BaselineInput {
  return {
    paymentId: o.paymentId,
    carbonOrderId: o.carbonOrderId,
    userId: o.userId,
    timeUtc: o.timeUtc,
    fundsAllocationId: o.fundsAllocationId,
    ...(waitMs && { waitMs }),
  };
}

/** Recon settings of a phase: reversals at once (happy path), or never (sagas that keep waiting). */
export type ReconMode = 'immediate' | 'never';

/**
 * Forgets every sandbox's state (nothing may be running) and sets recon up: so each phase starts from the same
 * sandbox state size whatever ran before.
 */
export async function resetSandboxes(stack: BenchStack, recon: ReconMode): Promise<void> {
  for (const url of Object.values(stack.sandboxUrls)) await admin(url, 'reset', {});
  await admin(
    stack.sandboxUrls.impactRecon,
    'settings',
    recon === 'immediate'
      ? { reversalDelayMs: 0, reversalBehaviour: 'match' }
      : { reversalDelayMs: 0, reversalBehaviour: 'never' },
  );
}

const SEED_BATCH = 500;

/**
 * Seeds `count` orders' fixtures in batches: a Circle payment that settles at once (`settleDelayMs: 0`), a Stripe
 * Climate order an hour old (inside its cancel window), a 1ClickImpact impact linked to a recon allocation.
 */
export async function seedOrders(stack: BenchStack, tag: string, count: number, log?: Log): Promise<Order[]> {
  const u = stack.sandboxUrls;
  const orders: Order[] = [];
  for (let i = 0; i < count; i += SEED_BATCH) {
    const batch = Array.from({ length: Math.min(SEED_BATCH, count - i) }, (_, j) => newOrder(tag, i + j));
    const fundsDateTime = new Date(Date.now() - 60_000).toISOString();
    await Promise.all([
      admin(u.circle, 'fixtures', { payments: batch.map((o) => ({ id: o.paymentId, settleDelayMs: 0 })) }),
      admin(u.stripeClimate, 'fixtures', { orders: batch.map((o) => ({ id: o.carbonOrderId, ageSeconds: 3600 })) }),
      admin(u.impactRecon, 'fixtures', {
        allocations: batch.map((o) => ({
          fundsAllocationId: o.fundsAllocationId,
          consumerReference: o.consumerReference,
          fundsDateTime,
        })),
      }),
      admin(u.oneClickImpact, 'fixtures', {
        impacts: batch.map((o) => ({
          user_id: o.userId,
          time_utc: o.timeUtc,
          tree_planted: 2,
          fundsAllocationId: o.fundsAllocationId,
        })),
      }),
    ]);
    orders.push(...batch);
    if (log && count > SEED_BATCH) log(`seeded ${orders.length}/${count} orders`);
  }
  return orders;
}

interface StartOptions {
  sagaOptions?: RefundSagaOptions;
  /** Baseline only: sleep this long after the reads. */
  waitMs?: number;
}

/** Starts one workflow by its real start path (`startRefund` for the saga); a transient failure is retried twice. */
async function startOne(stack: BenchStack, kind: Kind, order: Order, options: StartOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (kind === 'saga') {
        await startRefund(stack.client, sagaRequest(order), {
          taskQueue: stack.taskQueue,
          sagaOptions: options.sagaOptions,
        });
      } else {
        await stack.client.workflow.start('baselineRefund', {
          taskQueue: stack.taskQueue,
          workflowId: workflowIdOf(kind, order),
          args: [baselineInput(order, options.waitMs)],
        });
      }
      return;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError && attempt > 1) return;
      if (attempt >= 3) throw err;
      await sleep(1000);
    }
  }
}

/** Runs `fn` over `items`, `limit` at a time; never rejects (`fn` must catch). */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Starts every order's workflow, `concurrency` at a time; returns each one's client start time (ms). */
async function startAll(
  stack: BenchStack,
  kind: Kind,
  orders: readonly Order[],
  options: StartOptions,
  progress: (started: number) => void,
  errors: string[],
  concurrency = 50,
  /** Awaited before each start; false skips the rest (the phase is over). */
  gate: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<Map<string, number>> {
  const startedAt = new Map<string, number>();
  let started = 0;
  await pool(orders, concurrency, async (order) => {
    if (!(await gate())) return;
    const at = Date.now();
    try {
      await startOne(stack, kind, order, options);
      startedAt.set(workflowIdOf(kind, order), at);
    } catch (err) {
      if (errors.length < 20) errors.push(`${workflowIdOf(kind, order)}: ${(err as Error).message}`);
    }
    progress(++started);
  });
  return startedAt;
}

/** Starts one workflow every `1000 / rate` ms (at most 200 starts in flight); returns client start times. */
async function startAtRate(
  stack: BenchStack,
  kind: Kind,
  orders: readonly Order[],
  rate: number,
  progress: (started: number) => void,
  errors: string[],
): Promise<{ startedAt: Map<string, number>; maxLagMs: number }> {
  const startedAt = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const t0 = Date.now();
  let maxLagMs = 0;
  for (let i = 0; i < orders.length; i++) {
    const due = t0 + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    while (inFlight.size >= 200) await Promise.race(inFlight);
    const order = orders[i]!;
    const at = Date.now();
    maxLagMs = Math.max(maxLagMs, at - due);
    const p: Promise<void> = startOne(stack, kind, order, {})
      .then(
        () => void startedAt.set(workflowIdOf(kind, order), at),
        (err: unknown) => {
          if (errors.length < 20) errors.push(`${workflowIdOf(kind, order)}: ${(err as Error).message}`);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    progress(i + 1);
  }
  await Promise.all(inFlight);
  return { startedAt, maxLagMs };
}

/** The server's Prometheus counters trail by up to a second (measured): scrapes wait this long for a phase to settle. */
const METRIC_SETTLE_MS = 2500;

const sinceClause = (since: number) => `StartTime >= '${new Date(since - 1000).toISOString()}'`;

/** Waits until visibility shows `expected` closed runs of the kind started since `since`, or `timeoutMs` passed. */
async function waitClosed(
  stack: BenchStack,
  kind: Kind,
  since: number,
  expected: number,
  timeoutMs: number,
  label: string,
  log: Log,
): Promise<number> {
  const query = `WorkflowType = '${WORKFLOW_TYPE[kind]}' AND ${sinceClause(since)} AND ExecutionStatus != 'Running'`;
  const began = Date.now();
  let lastLog = 0;
  let closed = 0;
  for (;;) {
    closed = await stack.client.workflow.count(query).then(
      (r) => r.count,
      () => closed,
    );
    if (closed >= expected) return closed;
    if (!stack.worker.running) {
      log(`${label}: the worker exited (${workerExitReason(stack)}): ${closed}/${expected} closed`);
      return closed;
    }
    if (Date.now() - began > timeoutMs) {
      log(
        `${label}: gave up waiting after ${((Date.now() - began) / 1000).toFixed(0)} s: ${closed}/${expected} closed`,
      );
      return closed;
    }
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`${label}: ${closed}/${expected} closed, ${elapsed(since)}`);
    }
    await sleep(250);
  }
}

/** Why the worker process exited, from its last output. */
export function workerExitReason(stack: BenchStack): string {
  const out = stack.worker.output;
  const line = /(?:UnexpectedError|Error \[[A-Z_]+\]|Error)[^\n]*/.exec(out)?.[0] ?? out.trim().split('\n').pop() ?? '';
  const how = stack.worker.child?.signalCode ?? `exit ${stack.worker.child?.exitCode}`;
  return `${how}: ${line.slice(0, 300)}`;
}

/** Starts the worker again when it is not running (it exited in an earlier phase); returns why it had exited. */
export async function ensureWorker(stack: BenchStack, log: Log): Promise<string | undefined> {
  if (stack.worker.running) return undefined;
  const reason = workerExitReason(stack);
  log(`the worker had exited (${reason}); starting it again`);
  await stack.worker.start();
  return reason;
}

const elapsed = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

interface Run {
  workflowId: string;
  status: string;
  start: number;
  close?: number;
}

/** The runs of `ids` (of the kind, started since `since`) as visibility lists them. */
async function listRuns(stack: BenchStack, kind: Kind, since: number, ids: Set<string>): Promise<Run[]> {
  const runs: Run[] = [];
  const query = `WorkflowType = '${WORKFLOW_TYPE[kind]}' AND ${sinceClause(since)}`;
  for await (const wf of stack.client.workflow.list({ query, pageSize: 1000 })) {
    if (!ids.has(wf.workflowId)) continue;
    runs.push({
      workflowId: wf.workflowId,
      status: wf.status.name,
      start: wf.startTime.getTime(),
      close: wf.closeTime?.getTime(),
    });
  }
  return runs;
}

/** CPU ms of the worker, the server and the sandboxes (each a process group), and of this process. */
function cpuNow(stack: BenchStack) {
  const self = process.cpuUsage();
  return {
    worker: groupCpuMs(stack.worker.child?.pid),
    server: groupCpuMs(stack.temporal.child?.pid),
    sandboxes: groupCpuMs(stack.sandboxes.child?.pid),
    benchClient: (self.user + self.system) / 1000,
  };
}
type Cpu = ReturnType<typeof cpuNow>;
const cpuDiff = (a: Cpu, b: Cpu): Cpu => ({
  worker: b.worker - a.worker,
  server: b.server - a.server,
  sandboxes: b.sandboxes - a.sandboxes,
  benchClient: b.benchClient - a.benchClient,
});
const perRun = (cpu: Cpu, n: number): Cpu => ({
  worker: cpu.worker / n,
  server: cpu.server / n,
  sandboxes: cpu.sandboxes / n,
  benchClient: cpu.benchClient / n,
});

/** Fetches up to `count` histories of `ids` (spread over the list), `concurrency` at a time. */
async function sampleHistories(
  stack: BenchStack,
  ids: string[],
  count: number,
): Promise<Array<{ workflowId: string; history: History }>> {
  const step = Math.max(1, Math.floor(ids.length / count));
  const picked = ids.filter((_, i) => i % step === 0).slice(0, count);
  const histories: Array<{ workflowId: string; history: History }> = [];
  await pool(picked, 10, async (workflowId) => {
    try {
      histories.push({ workflowId, history: await stack.client.workflow.getHandle(workflowId).fetchHistory() });
    } catch {
      // A history that cannot be read is left out of the sample.
    }
  });
  return histories;
}

/** What one throughput phase (burst or steady) measured. */
export interface BatchResult {
  kind: Kind;
  mode: 'burst' | 'steady';
  rate?: number;
  n: number;
  started: number;
  completed: number;
  /** Runs that ended otherwise, by status, and runs still open when the wait gave up. */
  notCompleted: Record<string, number>;
  /** Why the worker process exited during the phase, if it did. */
  workerExited?: string;
  startErrors: string[];
  /** First client start to last server close. */
  seconds: number;
  /** The phase on the monotonic clock, in microseconds: what a CPU profile of the worker is cut to. */
  window: { fromUs: number; toUs: number };
  /** Completed runs per second over `seconds`. */
  throughput: number;
  /** Client start to server close, ms. */
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number };
  /** Steady only: the largest delay of a start behind its schedule. */
  maxStartLagMs?: number;
  cpuMs: Cpu;
  cpuMsPerRun: Cpu;
  /** The server's `action` counter over the phase, by type, and per run. */
  actionMetric: Record<string, number>;
  actionMetricPerRun: number;
  actionMetricPerRunByType: Record<string, number>;
  histories: { sampled: number; mean: HistoryCount };
}

export interface BatchOutcome {
  result: BatchResult;
  /** One completed run's history (for the replay phase). */
  sampleHistory?: { workflowId: string; history: History };
}

/**
 * One throughput phase: fresh sandboxes (reversals at once), `n` orders seeded, then `n` workflows started as fast as
 * `concurrency` allows (burst) or at `rate` per second (steady), waited for until all have closed, and measured.
 */
/** The monotonic clock in microseconds, the clock of V8's CPU profiles (CLOCK_MONOTONIC, the same in every process). */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export async function runBatch(
  stack: BenchStack,
  kind: Kind,
  n: number,
  mode: { burst: true } | { rate: number },
  label: string,
  log: Log,
): Promise<BatchOutcome> {
  await ensureWorker(stack, log);
  await resetSandboxes(stack, 'immediate');
  const orders = await seedOrders(stack, label.replace(/[^a-z0-9]/gi, '').slice(0, 12), n);
  // The server publishes its counters about every second: let the last phase's settle.
  await sleep(METRIC_SETTLE_MS);
  const errors: string[] = [];
  const actionsBefore = await scrapeActions(stack.metricsUrl);
  const cpuBefore = cpuNow(stack);
  const fromUs = monotonicUs();
  const t0 = Date.now();
  let lastLog = 0;
  const progress = (started: number) => {
    if (Date.now() - lastLog < 5000 && started !== n) return;
    lastLog = Date.now();
    log(`${label}: started ${started}/${n}, ${elapsed(t0)}`);
  };
  let startedAt: Map<string, number>;
  let maxStartLagMs: number | undefined;
  if ('rate' in mode) {
    ({ startedAt, maxLagMs: maxStartLagMs } = await startAtRate(stack, kind, orders, mode.rate, progress, errors));
  } else {
    startedAt = await startAll(stack, kind, orders, {}, progress, errors);
  }
  // Bounded: two minutes plus 300 ms a run (a burst of 500 sagas gets 4.5 minutes).
  await waitClosed(stack, kind, t0, startedAt.size, 120_000 + n * 300, label, log);
  const workerExited = stack.worker.running ? undefined : workerExitReason(stack);
  const cpuAfter = cpuNow(stack);
  const window = { fromUs, toUs: monotonicUs() };
  await sleep(METRIC_SETTLE_MS);
  const actionsAfter = await scrapeActions(stack.metricsUrl);

  const runs = await listRuns(stack, kind, t0, new Set(startedAt.keys()));
  const completedRuns = runs.filter((r) => r.status === 'COMPLETED' && r.close !== undefined);
  const notCompleted: Record<string, number> = {};
  for (const r of runs) if (r.status !== 'COMPLETED') notCompleted[r.status] = (notCompleted[r.status] ?? 0) + 1;
  const missing = startedAt.size - runs.length;
  if (missing > 0) notCompleted.NOT_LISTED = missing;
  const lastClose = Math.max(...completedRuns.map((r) => r.close!));
  const seconds = (lastClose - t0) / 1000;
  const latencies = completedRuns.map((r) => r.close! - startedAt.get(r.workflowId)!).sort((a, b) => a - b);
  const completed = completedRuns.length;
  const cpuMs = cpuDiff(cpuBefore, cpuAfter);
  const actionMetric = diffCounts(actionsBefore, actionsAfter);
  const byType = Object.fromEntries(Object.entries(actionMetric).map(([k, v]) => [k, v / Math.max(1, startedAt.size)]));

  const ids = completedRuns.map((r) => r.workflowId);
  const histories = await sampleHistories(stack, ids, 50);
  const counts = histories.map((h) => countHistory(h.history));
  log(
    `${label}: ${completed}/${n} completed in ${seconds.toFixed(1)} s (${(completed / seconds).toFixed(1)}/s), ` +
      `p50 ${percentile(latencies, 50)} ms, worker CPU ${(cpuMs.worker / Math.max(1, completed)).toFixed(1)} ms/run`,
  );
  return {
    result: {
      kind,
      mode: 'rate' in mode ? 'steady' : 'burst',
      ...('rate' in mode && { rate: mode.rate, maxStartLagMs }),
      n,
      started: startedAt.size,
      completed,
      notCompleted,
      ...(workerExited && { workerExited }),
      startErrors: errors,
      seconds,
      window,
      throughput: completed / seconds,
      latencyMs: {
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
        mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
        max: latencies[latencies.length - 1] ?? NaN,
      },
      cpuMs,
      cpuMsPerRun: perRun(cpuMs, Math.max(1, completed)),
      actionMetric,
      actionMetricPerRun: sum(actionMetric) / Math.max(1, startedAt.size),
      actionMetricPerRunByType: byType,
      histories: { sampled: histories.length, mean: meanCounts(counts) },
    },
    sampleHistory: histories[0],
  };
}

/** Terminates `ids` (those still running), 50 at a time, with progress. */
export async function terminateAll(stack: BenchStack, ids: string[], label: string, log: Log): Promise<number> {
  const t0 = Date.now();
  let done = 0;
  let terminated = 0;
  let lastLog = 0;
  await pool(ids, 50, async (id) => {
    try {
      await stack.client.workflow.getHandle(id).terminate('bench: phase over');
      terminated++;
    } catch {
      // Already closed, or not found: nothing to end.
    }
    done++;
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`${label}: terminated ${done}/${ids.length}, ${elapsed(t0)}`);
    }
  });
  log(`${label}: terminated ${terminated}/${ids.length} in ${elapsed(t0)}`);
  return terminated;
}

/** What the poll-cycle phase measured, per poll cycle of a saga waiting for a recon reversal that never appears. */
export interface PollCycleResult {
  sagas: number;
  pollMs: number;
  /** Steady cycles (after the first) summed over the sagas, exact from the histories. */
  cycles: number;
  eventsPerCycle: number;
  billableActionsPerCycle: number;
  serverActionsPerCycle: number;
  /** A steady cycle's events and actions by kind (mean per cycle). */
  perCycle: HistoryCount;
  /** The first cycle after the wait began (mean over the sagas). */
  firstCycle: HistoryCount;
  /** The server's counter between two scrapes; its cycles are the timers it saw started in that window. */
  metric: {
    windowSeconds: number;
    cycles: number;
    actionsPerCycle: number;
    heartbeatsPerCycle: number;
    byTypePerCycle: Record<string, number>;
  };
}

const POLL_SAGA_OPTIONS: RefundSagaOptions = {
  pollInitialMs: 2000,
  pollMaxMs: 2000,
  // At most 1,000 polls per wait: deadlines of 30 minutes at 2 s.
  settlementDeadlineMs: 1_800_000,
  reconDeadlineMs: 1_800_000,
};

/**
 * Poll cycle cost: `count` sagas whose recon reversal never appears, polling every 2 s, left to run about `cycles`
 * cycles; then the histories say what a cycle costs, and the action counter what it costs the server. Terminated
 * after. Returns the history of the saga with the most polls, cut after its last timer (a clean point to replay).
 */
export async function runPollCycles(
  stack: BenchStack,
  count: number,
  cycles: number,
  log: Log,
): Promise<{ result: PollCycleResult; history?: { workflowId: string; history: History } }> {
  await ensureWorker(stack, log);
  await resetSandboxes(stack, 'never');
  const orders = await seedOrders(stack, 'poll', count);
  const ids = orders.map((o) => workflowIdOf('saga', o));
  const errors: string[] = [];
  await startAll(stack, 'saga', orders, { sagaOptions: POLL_SAGA_OPTIONS }, () => undefined, errors);
  if (errors.length) log(`poll cycles: start errors: ${errors.join('; ')}`);
  const fetch = (id: string) => stack.client.workflow.getHandle(id).fetchHistory();
  const timersOf = (h: History) => (h.events ?? []).filter(isTimerStarted).length;

  // Until every saga waits on its first recon timer (bounded: a minute).
  const began = Date.now();
  for (;;) {
    const histories = await Promise.all(ids.map(fetch));
    if (histories.every((h) => timersOf(h) >= 1)) break;
    if (Date.now() - began > 60_000) {
      log('poll cycles: not every saga reached its recon wait within a minute; measuring what there is');
      break;
    }
    await sleep(500);
  }
  // The counters trail: let the sagas' first tasks reach them before the window opens.
  await sleep(METRIC_SETTLE_MS);
  const metricA = await scrapeActions(stack.metricsUrl);
  const atA = Date.now();
  log(`poll cycles: ${count} sagas polling recon every 2 s; waiting about ${cycles} cycles`);
  await sleep(cycles * 2000 + 1500);
  const metricB = await scrapeActions(stack.metricsUrl);
  const atB = Date.now();
  const historiesB = await Promise.all(ids.map(fetch));
  await terminateAll(stack, ids, 'poll cycles', log);

  // Exact cycles from the histories: a cycle runs from one recon timer (exclusive) to the next (inclusive). The first
  // (it may carry the wait's one-off writes) is reported apart from the steady ones after it.
  const first: HistoryCount[] = [];
  const steady: HistoryCount[] = [];
  let steadyCycles = 0;
  for (const h of historiesB) {
    const events = h.events ?? [];
    const timerAt = events.map((e, i) => (isTimerStarted(e) ? i : -1)).filter((i) => i >= 0);
    if (timerAt.length >= 2) first.push(countEvents(events.slice(timerAt[0]! + 1, timerAt[1]! + 1)));
    if (timerAt.length >= 3) {
      steadyCycles += timerAt.length - 2;
      steady.push(countEvents(events.slice(timerAt[1]! + 1, timerAt[timerAt.length - 1]! + 1)));
    }
  }
  const perCycle = scaleCounts(addCounts(steady), 1 / Math.max(1, steadyCycles));
  // The counter's cycles are its own started timers (one per cycle), so its window needs no alignment.
  const metric = diffCounts(metricA, metricB);
  const windowCycles = metric.command_StartTimer ?? 0;
  const perWindowCycle = (v: number) => v / Math.max(1, windowCycles);

  // The saga with the most polls, cut after its last timer: the history an evicted saga replays when it wakes.
  let best: { workflowId: string; history: History } | undefined;
  historiesB.forEach((h, i) => {
    if (!best || timersOf(h) > timersOf(best.history)) {
      const events = h.events ?? [];
      let last = events.length - 1;
      while (last > 0 && !isTimerStarted(events[last]!)) last--;
      best = { workflowId: ids[i]!, history: { events: events.slice(0, last + 1) } };
    }
  });
  return {
    result: {
      sagas: count,
      pollMs: 2000,
      cycles: steadyCycles,
      eventsPerCycle: perCycle.events,
      billableActionsPerCycle: perCycle.billableActions,
      serverActionsPerCycle: perCycle.serverActions,
      perCycle,
      firstCycle: meanCounts(first),
      metric: {
        windowSeconds: (atB - atA) / 1000,
        cycles: windowCycles,
        actionsPerCycle: perWindowCycle(sum(metric)),
        heartbeatsPerCycle: perWindowCycle(
          (metric.grpc_RecordActivityTaskHeartbeat ?? 0) + (metric.grpc_RecordActivityTaskHeartbeatById ?? 0),
        ),
        byTypePerCycle: Object.fromEntries(Object.entries(metric).map(([k, v]) => [k, perWindowCycle(v)])),
      },
    },
    history: best,
  };
}

/** What the memory phase measured: the worker's RSS as waiting workflows pile up. */
export interface MemoryResult {
  kind: Kind;
  k: number;
  started: number;
  /** Workflows at their waiting point (timers the server saw started) when the phase ended. */
  waiting: number;
  startErrors: string[];
  rssMiB: { before: number; quarter?: number; half?: number; all?: number; afterIdle?: number; peak: number };
  /** Why the worker process exited during the phase (it is not restarted within it), if it did. */
  workerExited?: string;
  /** Workflows started but not yet waiting, at most: starts wait for room. */
  maxInProgress: number;
  /** Seconds from the first start until K/4, K/2 and K waited. */
  atSeconds: { quarter?: number; half?: number; all?: number };
  idleMs: number;
  /** Starts per second until all waited. */
  startRate: number;
  cpuMs: Cpu;
  /** Timers per workflow in a sample of histories (1: each reached its waiting point once). */
  timersPerWorkflow: number;
  terminateSeconds: number;
}

/** The saga waits for recon, polled hourly (it sits idle at its first timer). */
const MEMORY_SAGA_OPTIONS: RefundSagaOptions = { pollInitialMs: 3_600_000 };
const MEMORY_WAIT_MS = 3_600_000;

/**
 * Started workflows not yet at their waiting point, at most: with all K in flight at once, the worker's cache (smaller
 * than K) would evict workflows between their tasks and replay them, and the phase would measure that thrash.
 */
const MAX_IN_PROGRESS = 100;

/**
 * Memory with `k` waiting workflows, on a freshly started worker: starts them (50 at a time, at most
 * {@link MAX_IN_PROGRESS} not yet waiting) until each has reached
 * its waiting point (the saga: the recon wait, reversal never appearing; the baseline: a one-hour sleep), recording the
 * worker's RSS at K/4, K/2 and K, then after `idleMs`. Counts a workflow as waiting when the server has seen its timer
 * started (`command_StartTimer`: one per workflow on this path). Terminates them after.
 */
export async function runMemory(
  stack: BenchStack,
  kind: Kind,
  k: number,
  idleMs: number,
  log: Log,
): Promise<MemoryResult> {
  const label = `memory ${kind}`;
  await resetSandboxes(stack, 'never');
  log(`${label}: seeding ${k} orders`);
  const orders = await seedOrders(stack, `m${kind[0]}`, k, (line) => log(`${label}: ${line}`));
  log(`${label}: restarting the worker`);
  await stack.worker.stop('SIGTERM');
  await stack.worker.stop('SIGKILL');
  await stack.worker.start();
  await sleep(3000);
  const pid = stack.worker.child?.pid;
  const rss: MemoryResult['rssMiB'] = { before: rssMiB(pid), peak: rssMiB(pid) };
  const at: MemoryResult['atSeconds'] = {};
  const timers = async () => (await scrapeActions(stack.metricsUrl)).command_StartTimer ?? 0;
  const timers0 = await timers();
  const cpuBefore = cpuNow(stack);
  const errors: string[] = [];
  const t0 = Date.now();
  let started = 0;
  let waiting = 0;
  let startsDone = false;
  let over = false;
  let workerExited: string | undefined;
  const gate = async () => {
    while (!over && started - waiting >= MAX_IN_PROGRESS) await sleep(100);
    return !over;
  };
  const starting = startAll(
    stack,
    kind,
    orders,
    kind === 'saga' ? { sagaOptions: MEMORY_SAGA_OPTIONS } : { waitMs: MEMORY_WAIT_MS },
    (s) => (started = s),
    errors,
    50,
    gate,
  ).finally(() => (startsDone = true));
  const marks = [
    ['quarter', Math.ceil(k / 4)],
    ['half', Math.ceil(k / 2)],
    ['all', k],
  ] as const;
  // Bounded: three minutes plus 300 ms a workflow (10,000 get 53 minutes). On 2 cores the worker took 80-90 ms a
  // workflow with a cache of 200, 180 ms with a cache of 1000 near its heap limit.
  const deadline = t0 + 180_000 + k * 300;
  let lastLog = 0;
  let lastChange = { at: Date.now(), waiting: 0 };
  for (;;) {
    waiting = (await timers().catch(() => timers0 + waiting)) - timers0;
    if (waiting !== lastChange.waiting) lastChange = { at: Date.now(), waiting };
    rss.peak = Math.max(rss.peak, rssMiB(pid) || 0);
    for (const [mark, count] of marks) {
      if (rss[mark] === undefined && waiting >= count) {
        rss[mark] = rssMiB(pid);
        at[mark] = (Date.now() - t0) / 1000;
        log(`${label}: ${waiting}/${k} waiting (${mark}): worker RSS ${rss[mark].toFixed(0)} MiB, ${elapsed(t0)}`);
      }
    }
    if (waiting >= k) break;
    if (!stack.worker.running) {
      workerExited = workerExitReason(stack);
      log(`${label}: the worker exited with ${waiting}/${k} waiting (${workerExited}), ${elapsed(t0)}`);
      break;
    }
    // Bounded: the deadline, or a minute without a new waiter once every start has been made.
    if (Date.now() > deadline || (startsDone && Date.now() - lastChange.at > 60_000)) {
      log(`${label}: stopped waiting: ${waiting}/${k} waiting, ${errors.length} start errors, ${elapsed(t0)}`);
      break;
    }
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`${label}: started ${started}/${k}, waiting ${waiting}/${k}, ${elapsed(t0)}`);
    }
    await sleep(500);
  }
  const allAt = Date.now();
  over = true;
  await starting;
  const cpuMs = cpuDiff(cpuBefore, cpuNow(stack));
  if (workerExited) cpuMs.worker = NaN;
  else {
    log(`${label}: idle ${(idleMs / 1000).toFixed(0)} s`);
    await sleep(idleMs);
    rss.afterIdle = rssMiB(pid);
    log(`${label}: after idle: worker RSS ${rss.afterIdle.toFixed(0)} MiB`);
  }
  const ids = orders.map((o) => workflowIdOf(kind, o));
  const sample = await sampleHistories(stack, ids, 20);
  const timersPerWorkflow =
    sample.reduce((n, h) => n + (h.history.events ?? []).filter(isTimerStarted).length, 0) / Math.max(1, sample.length);
  const termStart = Date.now();
  await terminateAll(stack, ids, label, log);
  return {
    kind,
    k,
    started: started - errors.length,
    waiting,
    startErrors: errors,
    rssMiB: rss,
    ...(workerExited && { workerExited }),
    maxInProgress: MAX_IN_PROGRESS,
    atSeconds: at,
    idleMs,
    startRate: waiting / ((allAt - t0) / 1000),
    cpuMs,
    timersPerWorkflow,
    terminateSeconds: (Date.now() - termStart) / 1000,
  };
}

/**
 * Replay cost of one history: warm (one replay worker replays it `reps` times, as a running worker replays an evicted
 * workflow that wakes up) and per `Worker.runReplayHistory` call (a new replay worker each, after one discarded).
 */
export interface ReplayResult {
  workflowId: string;
  events: number;
  warmMsPerReplay: number;
  perCallMs: number;
  reps: number;
}

export async function timeReplay(
  bundlePath: string,
  workflowId: string,
  history: History,
  reps: number,
): Promise<ReplayResult> {
  const options = { workflowBundle: { codePath: bundlePath }, sinks: NO_TRACING_SINKS };
  await Worker.runReplayHistory(options, history, workflowId);
  const t = performance.now();
  for (let i = 0; i < reps; i++) await Worker.runReplayHistory(options, history, workflowId);
  const perCallMs = (performance.now() - t) / reps;
  const items = Array.from({ length: reps + 1 }, () => ({ workflowId, history }));
  const times: number[] = [];
  let last = performance.now();
  let first = true;
  for await (const result of Worker.runReplayHistories(options, items)) {
    if (result.error) throw result.error;
    const now = performance.now();
    // The first includes making the replay worker.
    if (!first) times.push(now - last);
    first = false;
    last = now;
  }
  return {
    workflowId,
    events: history.events?.length ?? 0,
    warmMsPerReplay: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    perCallMs,
    reps: times.length,
  };
}
