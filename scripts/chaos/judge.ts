/**
 * Judges a run by the providers' ledgers and the sagas' own results and histories, never by logs: duplicate and
 * missing effects, sagas stuck or failed, workflow-task failures (non-determinism among them), and how soon sagas
 * moved again after each kill.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { RefundRequest, RefundResult, SagaStatusView, StepOutcome } from '../../src/domain';
import type { ChaosStack } from './stack';

const { EventType } = temporal.api.enums.v1;

interface Ledger {
  counts: Record<string, Record<string, number>>;
  duplicateAttempts?: Record<string, number>;
}

async function ledger(url: string): Promise<Ledger> {
  return (await (await fetch(`${url}/_sandbox/ledger`)).json()) as Ledger;
}

export interface SagaVerdict {
  orderId: string;
  status: 'completed' | 'aborted' | 'needs_attention' | 'running' | 'failed' | 'terminated' | 'other';
  /** Resources cancelled more than once, or asked to be with another key. */
  duplicates: string[];
  /** Resources the result says were reversed by this saga, with no effect in the provider's ledger. */
  missing: string[];
  /** Resources the ledger shows cancelled (the suite's resources are cancelled by nobody else) that the result does not call reversed. */
  unreported: string[];
  /** For a saga that is not completed: the blocked step and its error, or how it ended. */
  why?: string;
  workflowTaskFailures: number;
  nonDeterminism: number;
  /** Server times (ms) of the events that moved the saga: workflow tasks and activities completed. */
  progress: number[];
  /** Spans (ms) during which a task or an activity of it was in flight on a worker, and which. */
  inFlight: Array<[number, number, string]>;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;

/** One saga's verdict, from its result, its history and the ledgers. */
export async function judgeSaga(
  client: Client,
  request: RefundRequest,
  ledgers: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact', Ledger>,
): Promise<SagaVerdict> {
  const handle = client.workflow.getHandle(`refund-${request.orderId}`);
  const description = await handle.describe();
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const verdict: SagaVerdict = {
    orderId: request.orderId,
    status: 'other',
    duplicates: [],
    missing: [],
    unreported: [],
    workflowTaskFailures: 0,
    nonDeterminism: 0,
    progress: [],
    inFlight: [],
  };
  const started = new Map<string, number>();
  const names = new Map<string, string>();
  for (const event of events) {
    const at = ms(event.eventTime);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        verdict.workflowTaskFailures++;
        if (/nondetermin/i.test(event.workflowTaskFailedEventAttributes?.failure?.message ?? ''))
          verdict.nonDeterminism++;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        started.set(`wft`, at);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        verdict.progress.push(at);
        verdict.inFlight.push([started.get('wft') ?? at, at, 'workflow task']);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        started.set(`activity-${String(event.eventId)}`, at);
        names.set(String(event.eventId), event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const attrs = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes;
        verdict.progress.push(at);
        const id = String(attrs?.scheduledEventId);
        verdict.inFlight.push([started.get(`activity-${id}`) ?? at, at, names.get(id) ?? 'activity']);
        break;
      }
    }
  }
  const execution = description.status.name;
  if (execution === 'COMPLETED') {
    const result = (await handle.result()) as RefundResult;
    verdict.status = result.outcome === 'aborted' ? 'aborted' : 'completed';
    const checks: Array<[string | undefined, Ledger, StepOutcome]> = [
      [request.payment.paymentId, ledgers.circle, result.payment.outcome],
      [
        request.carbon?.provider === 'stripe_climate' ? request.carbon.orderId : undefined,
        ledgers.stripeClimate,
        result.carbon.outcome,
      ],
      [
        request.carbon?.provider === 'squake' ? request.carbon.purchaseId : undefined,
        ledgers.squake,
        result.carbon.outcome,
      ],
      [
        request.impact ? `${request.impact.userId}|${request.impact.timeUtc}` : undefined,
        ledgers.oneClickImpact,
        result.impact.outcome,
      ],
    ];
    // An abort that finds a pending cancel hands the payment over with the cancel named: reported, not hidden.
    const named = (resource: string, outcome: StepOutcome) =>
      outcome === 'reversed' ||
      (resource === request.payment.paymentId && outcome === 'left_for_manual_handling' && !!result.payment.cancelId);
    for (const [resource, book, outcome] of checks) {
      if (!resource) continue;
      const made = book.counts[resource]?.cancellation ?? 0;
      if (made > 1 || (book.duplicateAttempts?.[resource] ?? 0) > 0) verdict.duplicates.push(resource);
      if (outcome === 'reversed' && made === 0) verdict.missing.push(resource);
      if (made > 0 && !named(resource, outcome)) verdict.unreported.push(`${resource} (${outcome})`);
    }
  } else if (execution === 'RUNNING') {
    const status = await handle.query<SagaStatusView>('status');
    verdict.status = status.status === 'needs_attention' ? 'needs_attention' : 'running';
    const blocked = Object.entries(status.steps).find(
      ([, step]) => step.state === 'blocked' || step.state === 'waiting',
    );
    if (blocked)
      verdict.why = `${blocked[0]} ${blocked[1].state}: ${blocked[1].lastError?.type ?? ''} ${blocked[1].lastError?.message ?? blocked[1].detail ?? ''}`;
  } else if (execution === 'FAILED') verdict.status = 'failed';
  else if (execution === 'TERMINATED') verdict.status = 'terminated';
  return verdict;
}

/** The ledgers of the four providers that cancel. */
export async function readLedgers(stack: ChaosStack) {
  const [circle, stripeClimate, squake, oneClickImpact] = await Promise.all([
    ledger(stack.sandboxUrls.circle),
    ledger(stack.sandboxUrls.stripeClimate),
    ledger(stack.sandboxUrls.squake),
    ledger(stack.sandboxUrls.oneClickImpact),
  ]);
  return { circle, stripeClimate, squake, oneClickImpact };
}

/**
 * Recovery after each kill: the time to the next completed workflow task of any saga, and for each saga that had a
 * task or an activity in flight at the kill, the time to its next progress.
 */
export function recovery(kills: number[], verdicts: SagaVerdict[]) {
  const anyProgress = verdicts.flatMap((v) => v.progress).sort((a, b) => a - b);
  const toNextTask: number[] = [];
  const affected: number[] = [];
  const samples: Array<{ orderId: string; ms: number; inFlight: string; laterFaults: number }> = [];
  for (const kill of kills) {
    const next = anyProgress.find((t) => t > kill);
    if (next) toNextTask.push(next - kill);
    for (const verdict of verdicts) {
      const spans = verdict.inFlight.filter(([from, to]) => from <= kill && to > kill);
      if (!spans.length) continue;
      const progress = verdict.progress.find((t) => t > kill);
      if (!progress) continue;
      affected.push(progress - kill);
      // Faults that struck again before the saga moved: a chain of kills, not one slow recovery.
      const laterFaults = kills.filter((k) => k > kill && k < progress).length;
      samples.push({
        orderId: verdict.orderId,
        ms: progress - kill,
        inFlight: spans.map((s) => s[2]).join(', '),
        laterFaults,
      });
    }
  }
  // Recoveries no second fault overtook: how long one fault holds a saga up.
  const alone = samples.filter((s) => s.laterFaults === 0).map((s) => s.ms);
  // The slowest recoveries, with what was in flight, to tell a lost activity from a lost workflow task.
  const slowest = samples.sort((a, b) => b.ms - a.ms).slice(0, 5);
  return { toNextTask, affected, alone, slowest };
}

/** The p-th percentile (0–100) of `values`, or undefined for none. */
export function percentile(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
