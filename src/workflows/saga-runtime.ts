/**
 * The saga's state inside the workflow: step states, operator decisions, override validation, and publishing to the
 * Temporal UI (current details and search attributes). Deterministic: only workflow time and workflow APIs.
 */
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import {
  CarbonProviderKey,
  durationMs,
  ErrorType,
  NeedsAttentionKey,
  OrderIdKey,
  OVERRIDE_INPUTS,
  RefundStatusKey,
  RefundStepKey,
  STEPS,
  type AppliedOverride,
  type OverrideAction,
  type RefundRequest,
  type SagaStatus,
  type SagaStatusView,
  type StepError,
  type StepName,
  type StepStatus,
} from '../domain';

/** What an operator decided for a step that waits on them. */
export type Decision = 'retry' | 'skip' | 'abort' | 'extended' | 'confirmed';

/**
 * What the saga knows of Circle's cancel: nothing sent yet, a call in flight, Circle read and showing no cancel,
 * unknown (a call failed and Circle could not be read), or a cancel exists. Tracked by sagas started since the pivot is
 * read (`undefined` before), and it decides whether an abort or a skip of the payment may be honoured.
 */
export type PivotState = 'untouched' | 'in_flight' | 'not_cancelled' | 'unknown' | 'passed';

/** Why abort and skip of the payment wait while the pivot is unsettled. */
const PIVOT_REFUSALS: Partial<Record<PivotState, string>> = {
  in_flight:
    'the Circle cancel is in flight; abort or skip once it has answered, when the status says whether it took effect',
  unknown:
    "the payment's state is unknown; retry first (Circle could not be read after the cancel failed, so the cancel may have taken effect)",
};

const FINISHED: ReadonlyArray<StepStatus['state']> = ['succeeded', 'skipped', 'not_applicable'];

/** Formats a duration for people: `45s`, `5m`, `6h`, `3d`, `1d 6h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  const d = Math.floor(s / 86400);
  const h = Math.round((s % 86400) / 3600);
  return h ? `${d}d ${h}h` : `${d}d`;
}

const now = () => new Date().toISOString();

/** The mutable state of one saga run. */
export class SagaRuntime {
  readonly view: SagaStatusView;
  /** Decisions sent by operators, consumed by the step waiting for them. */
  private readonly decisions: Partial<Record<StepName, Decision>> = {};
  abortRequested = false;
  /** Set by the Circle webhook signal; the settlement wait polls at once. */
  settlementNudged = false;
  /** Evidence given with `skipStep` or `confirmRecon`, by step. */
  readonly evidence: Partial<Record<StepName, string>> = {};
  /** Idempotency-key generation of each step: an operator's `retryStep` starts a new one. */
  readonly generations: Record<StepName, number> = { payment: 1, carbon: 1, impact: 1, recon: 1 };
  /** What the saga knows of Circle's cancel; see {@link PivotState}. */
  pivot?: PivotState;
  /** An operator retried past an `AmountMismatch`: cancel the payment for the amount Circle holds. */
  amountAccepted = false;
  private published = '';

  constructor(readonly request: RefundRequest) {
    const at = now();
    const step = (applies: boolean): StepStatus => ({ state: applies ? 'pending' : 'not_applicable', attempts: 0 });
    this.view = {
      orderId: request.orderId,
      status: 'running',
      steps: {
        payment: step(true),
        carbon: step(!!request.carbon),
        impact: step(!!request.impact),
        recon: step(!!request.recon),
      },
      overrides: [],
      startedAt: at,
      updatedAt: at,
    };
  }

  step(name: StepName): StepStatus {
    return this.view.steps[name];
  }

  isFinished(name: StepName): boolean {
    return FINISHED.includes(this.step(name).state);
  }

  /** Changes a step and publishes the new state. */
  update(name: StepName, change: Partial<StepStatus>): void {
    Object.assign(this.view.steps[name], change);
    if (change.state && change.state !== 'blocked') delete this.view.steps[name].lastError;
    this.publish();
  }

  block(name: StepName, error: StepError): void {
    this.update(name, { state: 'blocked', lastError: error });
  }

  /** Takes the operator's decision for a step, if one arrived. */
  takeDecision(name: StepName): Decision | undefined {
    const decision = this.abortRequested ? 'abort' : this.decisions[name];
    delete this.decisions[name];
    return decision;
  }

  hasDecision(name: StepName): boolean {
    return this.abortRequested || this.decisions[name] !== undefined;
  }

  /** The overall status, derived from the steps. */
  private deriveStatus(): SagaStatus {
    if (this.view.status === 'completed' || this.view.status === 'aborted') return this.view.status;
    const states = STEPS.map((s) => this.step(s).state);
    if (states.includes('blocked')) return 'needs_attention';
    if (this.step('recon').state === 'waiting') return 'awaiting_recon';
    if (this.step('payment').state === 'waiting' && STEPS.every((s) => s === 'payment' || this.isFinished(s))) {
      return 'awaiting_settlement';
    }
    return 'running';
  }

  /** The step the saga is on, for the `RefundStep` search attribute: a blocked one first, then one being worked on. */
  private currentStep(): string {
    const where = (state: StepStatus['state']) => STEPS.find((s) => this.step(s).state === state);
    return where('blocked') ?? where('in_progress') ?? STEPS.find((s) => !this.isFinished(s)) ?? 'done';
  }

  /** Ends the saga with a final status. */
  finish(status: 'completed' | 'aborted'): void {
    this.view.status = status;
    this.view.completedAt = now();
    this.publish();
  }

  /** Refreshes status and timestamps, the UI's current details, and the search attributes when they changed. */
  publish(): void {
    this.view.status = this.deriveStatus();
    this.view.updatedAt = now();
    setCurrentDetails(this.markdown());
    const attributes = {
      status: this.view.status,
      step: this.currentStep(),
      attention: this.view.status === 'needs_attention',
    };
    const key = JSON.stringify(attributes);
    if (key === this.published) return;
    this.published = key;
    upsertSearchAttributes([
      { key: RefundStatusKey, value: attributes.status },
      { key: RefundStepKey, value: attributes.step },
      { key: OrderIdKey, value: this.request.orderId },
      { key: CarbonProviderKey, value: this.request.carbon?.provider ?? 'none' },
      { key: NeedsAttentionKey, value: attributes.attention },
    ]);
  }

  /** The markdown step table shown as the run's current details in the Temporal UI. */
  markdown(): string {
    const rows = STEPS.map((name) => {
      const s = this.step(name);
      const note = s.lastError ? `${s.lastError.type}: ${s.lastError.message}` : (s.detail ?? '');
      const deadline = s.deadline && !this.isFinished(name) ? ` (deadline ${s.deadline})` : '';
      return `| ${name} | ${s.state} | ${s.attempts} | ${note.replace(/\|/g, '/')}${deadline} |`;
    });
    const lines = [`**Refund ${this.request.orderId}** — ${this.view.status}`, ''];
    if (this.view.status === 'needs_attention') {
      lines.push(
        'Needs an operator: send the update or signal retryStep, skipStep, confirmRecon, extendDeadline or abort.',
        '',
      );
    }
    lines.push('| step | state | attempts | detail |', '|---|---|---|---|', ...rows);
    return lines.join('\n');
  }

  /**
   * Why an override makes no sense now, or `undefined` when it may be applied. Synchronous, so it can serve as an
   * update validator; signals are checked with it too.
   */
  rejection(action: OverrideAction, input: unknown): string | undefined {
    const parsed = OVERRIDE_INPUTS[action].safeParse(input);
    if (!parsed.success) {
      return `invalid ${action}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'} ${i.message}`).join('; ')}`;
    }
    if (this.view.status === 'completed' || this.view.status === 'aborted')
      return `the saga has already ended (${this.view.status})`;
    const data = parsed.data as { step?: StepName };
    const step = data.step ? this.step(data.step) : undefined;
    switch (action) {
      case 'retryStep':
        return step?.state === 'blocked'
          ? undefined
          : `step ${data.step} is ${step?.state}; only a blocked step can be retried`;
      case 'skipStep':
        if (data.step === 'payment' && this.pivot && PIVOT_REFUSALS[this.pivot]) return PIVOT_REFUSALS[this.pivot];
        return step && ['pending', 'blocked', 'waiting'].includes(step.state)
          ? undefined
          : `step ${data.step} is ${step?.state}; only a pending, waiting or blocked step can be skipped`;
      case 'confirmRecon': {
        const recon = this.step('recon');
        return ['pending', 'waiting', 'blocked'].includes(recon.state)
          ? undefined
          : `recon is ${recon.state}; nothing to confirm`;
      }
      case 'extendDeadline':
        return step?.state === 'waiting' ||
          (step?.state === 'blocked' && step.lastError?.type === ErrorType.DeadlinePassed)
          ? undefined
          : `step ${data.step} is ${step?.state}; only a step that is waited on, or whose deadline passed, can get more time`;
      case 'abort':
        if (this.abortRequested) return 'an abort is already under way';
        return this.pivot && PIVOT_REFUSALS[this.pivot];
    }
  }

  /** Applies a validated override: records it and hands the decision to the step that waits for it. */
  apply(
    action: OverrideAction,
    input: { step?: StepName; operator: string; reason: string; evidence?: string; duration?: number | string },
  ): SagaStatusView {
    const step = action === 'confirmRecon' ? 'recon' : input.step;
    const entry: AppliedOverride = {
      action,
      operator: input.operator,
      reason: input.reason,
      at: now(),
      ...(step && { step }),
    };
    this.view.overrides.push(entry);
    if (step && input.evidence) this.evidence[step] = input.evidence;
    // The step's state changes at once, so the update's answer shows the override's effect; the waiting step then
    // picks up the decision.
    switch (action) {
      case 'abort':
        this.abortRequested = true;
        break;
      case 'retryStep':
        this.decisions[step!] = 'retry';
        this.generations[step!] += 1;
        if (this.step(step!).lastError?.type === ErrorType.AmountMismatch) this.amountAccepted = true;
        Object.assign(this.step(step!), { state: 'in_progress', detail: `retry requested by ${input.operator}` });
        break;
      case 'confirmRecon':
        this.decisions.recon = 'confirmed';
        Object.assign(this.step('recon'), {
          state: 'succeeded',
          detail: `confirmed by ${input.operator}: ${input.evidence}`,
        });
        break;
      case 'skipStep':
        if (this.step(step!).state !== 'pending') this.decisions[step!] = 'skip';
        Object.assign(this.step(step!), { state: 'skipped', detail: `skipped by ${input.operator}: ${input.reason}` });
        break;
      case 'extendDeadline': {
        const current = Date.parse(this.step(step!).deadline ?? now());
        const base = Math.max(current, Date.now());
        Object.assign(this.step(step!), {
          state: 'waiting',
          deadline: new Date(base + durationMs(input.duration!)).toISOString(),
        });
        this.decisions[step!] = 'extended';
        break;
      }
    }
    if (step && this.step(step).state !== 'blocked') delete this.step(step).lastError;
    this.publish();
    return this.view;
  }
}
