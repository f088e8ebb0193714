/**
 * `refundSaga`: one durable workflow per refunded order (design.md, "The saga"). Cancels the Circle payment (the
 * pivot), then the carbon order and the impact, awaits Circle's settlement in the background and the reversal in the
 * recon feed, and completes with a reversal summary. Permanent failures block a step and wait for an operator; the
 * workflow itself does not fail.
 *
 * History stays bounded over long waits: settlement and recon are polled on durable timers whose interval doubles up
 * to `pollMaxMs` (6 h by default), so a 7-day recon wait is about 35 polls of ~8 events each — a few hundred events.
 * That is far below Temporal's limits, and keeps every poll visible in the UI, so no continue-as-new is needed;
 * `extendDeadline` adds at most `duration / pollMaxMs` more polls.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { CarbonCancelResult, CircleCancelState, ImpactCancelResult, RefundActivities } from '../activities';
import {
  abortSignal,
  abortUpdate,
  circleCancelSettledSignal,
  confirmReconSignal,
  confirmReconUpdate,
  ErrorType,
  extendDeadlineSignal,
  extendDeadlineUpdate,
  RefundRequestSchema,
  retryStepSignal,
  retryStepUpdate,
  skipStepSignal,
  skipStepUpdate,
  statusQuery,
  STEPS,
  stepIdempotencyKey,
  stepIdempotencyUuid,
  toFieldIssues,
  type OverrideAction,
  type RefundRequest,
  type RefundResult,
  type RefundSagaInput,
  type RefundSagaOptions,
  type StepError,
  type StepName,
  type StepOutcome,
} from '../domain';
import { providerCall, statusCheck, withBound } from './activity-options';
import { formatDuration, SagaRuntime, type Decision } from './saga-runtime';

const DAY = 86_400_000;
const DEFAULTS: Required<RefundSagaOptions> = {
  settlementDeadlineMs: 3 * DAY,
  reconDeadlineMs: 7 * DAY,
  outageEscalationMs: 3_600_000,
  pollInitialMs: 60_000,
  pollMaxMs: 6 * 3_600_000,
};
/** The recon window starts this long before the impact's cancellation, for clock skew between providers. */
const RECON_SKEW_MS = 10 * 60_000;

type Attempt<T> = { ok: true; value: T } | { ok: false; decision: 'skip' | 'abort' | 'confirmed' };

/** The refund saga. */
export async function refundSaga(input: RefundSagaInput): Promise<RefundResult> {
  const parsed = RefundRequestSchema.safeParse(input.request);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error).map((i) => `${i.path} ${i.message}`);
    throw ApplicationFailure.nonRetryable(`invalid refund request: ${issues.join('; ')}`, ErrorType.InvalidRequest);
  }
  return new RefundSaga(parsed.data, { ...DEFAULTS, ...input.options }).run();
}

class RefundSaga {
  private readonly saga: SagaRuntime;
  private readonly workflowId = workflowInfo().workflowId;
  private payment: { cancelId?: string; settlement?: 'confirmed' | 'paid' } = {};
  private carbon?: CarbonCancelResult;
  private impact?: ImpactCancelResult;
  private recon: { recordId?: string; fundsDateTime?: string } = {};
  private pivotPassed = false;

  constructor(
    private readonly request: RefundRequest,
    private readonly options: Required<RefundSagaOptions>,
  ) {
    this.saga = new SagaRuntime(request);
    this.installHandlers();
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => this.saga.view);
    const pairs = [
      ['retryStep', retryStepUpdate, retryStepSignal],
      ['skipStep', skipStepUpdate, skipStepSignal],
      ['confirmRecon', confirmReconUpdate, confirmReconSignal],
      ['extendDeadline', extendDeadlineUpdate, extendDeadlineSignal],
      ['abort', abortUpdate, abortSignal],
    ] as const;
    for (const [action, update, signal] of pairs) {
      setHandler(update as typeof retryStepUpdate, (arg) => this.saga.apply(action, arg), {
        validator: (arg) => {
          const reason = this.saga.rejection(action, arg);
          if (reason) throw new Error(reason);
        },
      });
      setHandler(signal as typeof retryStepSignal, (arg) => this.applySignal(action, arg));
    }
    setHandler(circleCancelSettledSignal, () => {
      this.saga.settlementNudged = true;
    });
  }

  /** Signals cannot be rejected to their sender: a senseless one is logged in the details and ignored. */
  private applySignal(action: OverrideAction, arg: unknown): void {
    const reason = this.saga.rejection(action, arg);
    if (reason) {
      log.warn(`ignored ${action} signal: ${reason}`);
      return;
    }
    this.saga.apply(action, arg as Parameters<SagaRuntime['apply']>[1]);
  }

  private activities(options: typeof providerCall | typeof statusCheck, summary: string) {
    return proxyActivities<RefundActivities>(withBound(options, this.options.outageEscalationMs, summary));
  }

  async run(): Promise<RefundResult> {
    this.saga.publish();
    const { paymentId } = this.request.payment;

    const pivot = await this.runStep('payment', () =>
      this.activities(providerCall, `Cancel Circle payment ${paymentId.slice(0, 8)}…`).cancelCirclePayment({
        paymentId,
        idempotencyKey: stepIdempotencyUuid(this.workflowId, 'payment'),
      }),
    );
    if (!pivot.ok && pivot.decision === 'abort') return this.finish('aborted');
    this.pivotPassed = true;
    const settlement = pivot.ok ? this.awaitSettlement(pivot.value) : Promise.resolve();

    await this.runCarbon();
    if (!this.saga.abortRequested) await this.runImpact();
    if (!this.saga.abortRequested) await this.awaitRecon();
    await settlement;
    return this.finish(this.saga.abortRequested ? 'aborted' : 'completed');
  }

  /**
   * Calls a provider until it answers, a permanent failure meets an operator's decision, or the saga is aborted.
   * Each failure blocks the step; `retryStep` calls again.
   */
  private async attempt<T>(step: StepName, call: () => Promise<T>): Promise<Attempt<T>> {
    for (;;) {
      if (this.saga.abortRequested) return { ok: false, decision: 'abort' };
      const current = this.saga.step(step);
      this.saga.update(step, {
        state: current.state === 'waiting' ? 'waiting' : 'in_progress',
        attempts: current.attempts + 1,
      });
      try {
        return { ok: true, value: await call() };
      } catch (err) {
        const decision = await this.blockUntilDecided(step, this.describeFailure(err));
        if (decision !== 'retry' && decision !== 'extended') return { ok: false, decision };
      }
    }
  }

  /** Runs a step once to success, skip or abort. */
  private async runStep<T>(step: StepName, call: () => Promise<T>): Promise<Attempt<T>> {
    if (this.saga.step(step).state === 'skipped') return { ok: false, decision: 'skip' };
    const result = await this.attempt(step, call);
    if (!result.ok && result.decision === 'skip') this.markSkipped(step);
    return result;
  }

  private markSkipped(step: StepName): void {
    const evidence = this.saga.evidence[step];
    this.saga.update(step, { state: 'skipped', detail: `skipped by an operator${evidence ? `: ${evidence}` : ''}` });
  }

  /** Blocks the step until an operator decides; the saga shows `needs_attention` meanwhile. */
  private async blockUntilDecided(step: StepName, error: StepError): Promise<Exclude<Decision, 'retry'> | 'retry'> {
    this.saga.block(step, error);
    await condition(() => this.saga.hasDecision(step));
    return this.saga.takeDecision(step)!;
  }

  private describeFailure(err: unknown): StepError {
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      // Retries ran out of the outage bound: the last failure is the cause itself, or inside a timeout failure.
      if (err.retryState === RetryState.TIMEOUT || cause instanceof TimeoutFailure) {
        const last = cause instanceof TimeoutFailure ? cause.cause : cause;
        return {
          type: ErrorType.ProviderOutage,
          message: `still failing after ${formatDuration(this.options.outageEscalationMs)} of retries; last error: ${last?.message ?? 'no answer'}`,
          ...detailsOf(last),
        };
      }
      if (cause instanceof ApplicationFailure) {
        return { type: cause.type ?? 'Error', message: cause.message, ...detailsOf(cause) };
      }
      return { type: 'ActivityFailure', message: cause?.message ?? err.message };
    }
    return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
  }

  private async runCarbon(): Promise<void> {
    const carbon = this.request.carbon;
    if (!carbon) return;
    const key = stepIdempotencyKey(this.workflowId, 'carbon');
    const result = await this.runStep('carbon', () =>
      carbon.provider === 'stripe_climate'
        ? this.activities(providerCall, `Cancel Stripe Climate order ${carbon.orderId}`).cancelStripeClimateOrder({
            orderId: carbon.orderId,
            idempotencyKey: key,
          })
        : this.activities(providerCall, `Cancel SQUAKE purchase ${carbon.purchaseId}`).cancelSquakePurchase({
            purchaseId: carbon.purchaseId,
            idempotencyKey: key,
          }),
    );
    if (!result.ok) return;
    this.carbon = result.value;
    const fees = result.value.feesNotRefunded
      ? `, fees kept ${result.value.feesNotRefunded.value} ${result.value.feesNotRefunded.currency}`
      : '';
    this.saga.update('carbon', {
      state: 'succeeded',
      detail: `${result.value.outcome === 'reversed' ? 'cancelled' : 'was already cancelled'}${fees}`,
    });
  }

  private async runImpact(): Promise<void> {
    const impact = this.request.impact;
    if (!impact) return;
    const result = await this.runStep('impact', () =>
      this.activities(providerCall, `Cancel 1ClickImpact impact of ${impact.userId}`).cancelImpact({
        userId: impact.userId,
        timeUtc: impact.timeUtc,
        reason: this.request.reason,
      }),
    );
    if (!result.ok) return;
    this.impact = result.value;
    this.saga.update('impact', { state: 'succeeded', detail: `cancelled on ${result.value.cancelledOn}` });
  }

  /**
   * Polls on durable timers with doubling intervals until `done` says so or the deadline passes. Operators can skip,
   * confirm (recon), extend the deadline or abort while it waits; the Circle webhook can cut a wait short.
   */
  private async pollUntil(
    step: 'payment' | 'recon',
    deadlineMs: number,
    waitSummary: (ms: number) => string,
    poll: () => Promise<Attempt<'done' | 'again'>>,
    nudged: () => boolean = () => false,
  ): Promise<'done' | 'skip' | 'abort' | 'confirmed'> {
    this.saga.update(step, { state: 'waiting', deadline: new Date(Date.now() + deadlineMs).toISOString() });
    let delay = this.options.pollInitialMs;
    for (;;) {
      const result = await poll();
      if (!result.ok) return result.decision;
      if (result.value === 'done') return 'done';

      const remaining = Date.parse(this.saga.step(step).deadline!) - Date.now();
      if (remaining <= 0) {
        const decision = await this.blockUntilDecided(step, {
          type: ErrorType.DeadlinePassed,
          message: `deadline ${this.saga.step(step).deadline} passed; extend it, confirm, skip or abort`,
        });
        if (decision === 'skip' || decision === 'abort' || decision === 'confirmed') return decision;
        this.saga.update(step, { state: 'waiting' });
        continue;
      }
      const wait = Math.min(delay, remaining);
      await condition(() => this.saga.hasDecision(step) || nudged(), wait, { summary: waitSummary(wait) });
      const decision = this.saga.takeDecision(step);
      if (decision === 'skip' || decision === 'abort' || decision === 'confirmed') return decision;
      delay = Math.min(delay * 2, this.options.pollMaxMs);
    }
  }

  /** Circle settles the accepted cancel later; the saga cannot complete before it is confirmed. */
  private async awaitSettlement(accepted: CircleCancelState): Promise<void> {
    const { paymentId } = this.request.payment;
    this.payment.cancelId = accepted.cancelId;
    let status = accepted.status;
    const outcome = await this.pollUntil(
      'payment',
      this.options.settlementDeadlineMs,
      (ms) => `Wait ${formatDuration(ms)} for Circle cancel to settle`,
      async () => {
        if (status === 'pending' || status === 'none') {
          this.saga.settlementNudged = false;
          const read = await this.attempt('payment', () =>
            this.activities(statusCheck, `Check Circle cancel of ${paymentId.slice(0, 8)}…`).getCircleCancelStatus({
              paymentId,
            }),
          );
          if (!read.ok) return read;
          status = read.value.status;
        }
        if (status === 'confirmed' || status === 'paid') return { ok: true, value: 'done' };
        if (status !== 'failed') {
          this.saga.update('payment', {
            state: 'waiting',
            detail: `cancel ${status}; waiting for Circle to settle it`,
          });
          return { ok: true, value: 'again' };
        }
        const decision = await this.blockUntilDecided('payment', {
          type: ErrorType.SettlementFailed,
          message: 'Circle settled the cancel as failed; refund by hand and skip the step, or retry to check again',
          provider: 'circle',
        });
        if (decision === 'skip' || decision === 'abort' || decision === 'confirmed') return { ok: false, decision };
        status = 'pending';
        return { ok: true, value: 'again' };
      },
      () => this.saga.settlementNudged,
    );
    if (outcome === 'done') {
      this.payment.settlement = status as 'confirmed' | 'paid';
      this.saga.update('payment', {
        state: 'succeeded',
        detail: status === 'paid' ? 'cancel settled: refunded' : 'cancel settled: voided',
      });
    } else if (outcome === 'skip') {
      this.markSkipped('payment');
    }
  }

  private async awaitRecon(): Promise<void> {
    const recon = this.request.recon;
    if (!recon || this.saga.isFinished('recon')) return;
    const cancelledAt = Date.parse(this.impact?.cancelledOn ?? new Date().toISOString());
    const since = new Date(cancelledAt - RECON_SKEW_MS).toISOString();
    const outcome = await this.pollUntil(
      'recon',
      this.options.reconDeadlineMs,
      (ms) => `Wait ${formatDuration(ms)} for the recon feed to show the reversal`,
      async () => {
        const lookup = await this.attempt('recon', () =>
          this.activities(
            statusCheck,
            `Look for the reversal of allocation ${recon.fundsAllocationId.slice(0, 8)}…`,
          ).findReconReversal({
            fundsAllocationId: recon.fundsAllocationId,
            consumerReference: recon.consumerReference,
            since,
          }),
        );
        if (!lookup.ok) return lookup;
        const found = lookup.value;
        if (found.kind === 'matched') {
          this.recon = { recordId: found.recordId, fundsDateTime: found.fundsDateTime };
          return { ok: true, value: 'done' };
        }
        if (found.kind === 'none') {
          this.saga.update('recon', {
            state: 'waiting',
            detail: `no reversal yet among ${found.scanned} records since ${since}`,
          });
          return { ok: true, value: 'again' };
        }
        const decision = await this.blockUntilDecided('recon', {
          type: ErrorType.ReconMismatch,
          message: `reversal ${found.recordId} does not match: ${found.differences.join('; ')}`,
          provider: 'impact_recon',
        });
        if (decision === 'skip' || decision === 'abort' || decision === 'confirmed') return { ok: false, decision };
        this.saga.update('recon', { state: 'waiting' });
        return { ok: true, value: 'again' };
      },
    );
    if (outcome === 'done')
      this.saga.update('recon', { state: 'succeeded', detail: `reversal ${this.recon.recordId}` });
    else if (outcome === 'confirmed')
      this.saga.update('recon', {
        state: 'succeeded',
        detail: `confirmed by an operator: ${this.saga.evidence.recon}`,
      });
    else if (outcome === 'skip') this.markSkipped('recon');
  }

  private finish(outcome: 'completed' | 'aborted'): RefundResult {
    this.saga.finish(outcome);
    const view = this.saga.view;
    const stepOutcome = (step: StepName, reversed: StepOutcome = 'reversed'): StepOutcome => {
      const state = view.steps[step].state;
      if (state === 'not_applicable' || state === 'skipped') return state;
      if (state === 'succeeded') {
        return step === 'recon' && view.overrides.some((o) => o.action === 'confirmRecon')
          ? 'confirmed_by_operator'
          : reversed;
      }
      return this.pivotPassed ? 'left_for_manual_handling' : 'not_started';
    };
    const { request } = this;
    const result: RefundResult = {
      orderId: request.orderId,
      outcome,
      payment: {
        outcome: stepOutcome('payment'),
        paymentId: request.payment.paymentId,
        ...this.payment,
        amount: request.amount,
      },
      carbon: {
        outcome: stepOutcome('carbon', this.carbon?.outcome),
        provider: request.carbon?.provider,
        resourceId: request.carbon
          ? request.carbon.provider === 'stripe_climate'
            ? request.carbon.orderId
            : request.carbon.purchaseId
          : undefined,
        refunded: this.carbon?.refunded,
        feesNotRefunded: this.carbon?.feesNotRefunded,
        tonnes: this.carbon?.tonnes,
      },
      impact: {
        outcome: stepOutcome('impact', this.impact?.outcome),
        userId: request.impact?.userId,
        timeUtc: request.impact?.timeUtc,
        cancelledOn: this.impact?.cancelledOn,
        reversed: this.impact?.reversed,
      },
      recon: { outcome: stepOutcome('recon'), ...this.recon, evidence: this.saga.evidence.recon },
      leftForManualHandling: this.pivotPassed ? STEPS.filter((s) => stepOutcome(s) === 'left_for_manual_handling') : [],
      overrides: view.overrides,
      startedAt: view.startedAt,
      completedAt: view.completedAt!,
    };
    view.result = result;
    return result;
  }
}

/** Provider details an activity attached to its failure. */
function detailsOf(failure: unknown): Partial<StepError> {
  if (!(failure instanceof ApplicationFailure)) return {};
  const details = failure.details?.[0] as Partial<StepError> | undefined;
  return details ? { provider: details.provider, status: details.status, requestId: details.requestId } : {};
}
