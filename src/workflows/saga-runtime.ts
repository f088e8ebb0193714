/**
 * The saga's state inside the workflow: step states, operator decisions, override validation, and publishing to the
 * Temporal UI (current details and search attributes). Deterministic: only workflow time and workflow APIs.
 */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import {
  CancellationScope,
  condition,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  CarbonProviderKey,
  CirclePaymentIdKey,
  durationMs,
  RefundErrorTypeKey,
  ErrorType,
  NeedsAttentionKey,
  OrderIdKey,
  OVERRIDE_INPUTS,
  RefundStatusKey,
  RefundStepKey,
  STEPS,
  type AppliedOverride,
  type RefusedOverride,
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

/** Decisions that end a step whatever it waits for; the others answer one block, or the wait. */
const STEP_ENDING: ReadonlyArray<Decision> = ['skip', 'confirmed'];

/** A decision and the block it answers (`undefined`: it answers the step's wait, not a block). */
interface PendingDecision {
  decision: Decision;
  action: OverrideAction;
  block?: number;
}

/** How many refused or discarded overrides the status keeps, newest last. */
const REFUSALS_KEPT = 20;

/** Operator and provider text as plain text inside the markdown of the UI's current details. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`);
}

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

/** Resolves at the next round of condition checks: after everything the current round woke has run. */
function nextRound(): Promise<void> {
  let checks = 0;
  // The first check is made at once, the next in the next round.
  return condition(() => checks++ > 0);
}

/** The mutable state of one saga run. */
export class SagaRuntime {
  readonly view: SagaStatusView;
  /** Decisions sent by operators, consumed by the step waiting for them. */
  private readonly decisions: Partial<Record<StepName, PendingDecision>> = {};
  /** The block each blocked step is in, numbered; decisions are bound to it when the saga binds them. */
  private readonly blocks: Partial<Record<StepName, number>> = {};
  private blockCount = 0;
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
  /** Key generations of each step whose call may have reached the provider (it failed without a clear refusal). */
  readonly mayHaveActed: Record<StepName, number[]> = { payment: [], carbon: [], impact: [], recon: [] };
  /** Search attribute values as the server holds them, by key, so only changes are upserted. */
  private readonly attributes = new Map<string, string | boolean>();
  private published = '';
  /** Steps a poll found not done yet: the saga really waits on them (`awaiting_*`), not just reads once. */
  private readonly waitedOn = new Set<StepName>();
  /** How many times the state was published, so a flush can tell when a workflow task has settled. */
  private publications = 0;

  /**
   * `controlled`: started since operator-control-1, so decisions are bound to their block, refusals are recorded and
   * search attributes are written from the workflow itself, only when they change.
   */
  constructor(
    readonly request: RefundRequest,
    private readonly controlled = false,
    /** Started since error-type-attribute-1: `RefundErrorType` is kept current. */
    private readonly errorTypeAttribute = false,
    /**
     * Started since lean-1: search attributes are written only when the status, attention or error type changes (the
     * step goes with them, so a running saga's `RefundStep` is the step it set off from), at most once per workflow
     * task, by {@link flushAttributes}; and `awaiting_*` means a poll found the step not done yet.
     */
    private readonly lean = false,
  ) {
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
      ...(controlled && { refusedOverrides: [] }),
      startedAt: at,
      updatedAt: at,
    };
    if (controlled) {
      for (const { key, value } of workflowInfo().typedSearchAttributes.getAll()) {
        if (typeof value === 'string' || typeof value === 'boolean') this.attributes.set(key.name, value);
      }
    }
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

  /**
   * Blocks the step and returns the block's number. A pending decision that answered something else (the wait, or an
   * earlier block) and does not end the step is discarded, and the status says so.
   */
  block(name: StepName, error: StepError): number {
    const block = ++this.blockCount;
    this.blocks[name] = block;
    const pending = this.decisions[name];
    if (this.controlled && pending && !STEP_ENDING.includes(pending.decision)) {
      delete this.decisions[name];
      this.refuse(
        pending.action,
        `did not answer the ${error.type} block that followed: it answered ${pending.block ? 'an earlier block' : 'the wait'} of step ${name}${pending.decision === 'extended' ? ' (the new deadline stays)' : ''}; send a decision for this block`,
        name,
      );
    }
    this.update(name, { state: 'blocked', lastError: error });
    return block;
  }

  /** Whether a decision for the step (and, when bound, for this block) has arrived. */
  hasDecision(name: StepName, block?: number): boolean {
    return this.abortRequested || this.fits(name, block);
  }

  /** Takes the operator's decision for a step (and this block), if one arrived. */
  takeDecision(name: StepName, block?: number): Decision | undefined {
    if (this.abortRequested) return 'abort';
    if (!this.fits(name, block)) return undefined;
    const { decision } = this.decisions[name]!;
    delete this.decisions[name];
    return decision;
  }

  /** Records a decision still pending when its step finished on its own (a read found what it waited for). */
  supersede(name: StepName): void {
    const pending = this.decisions[name];
    if (!this.controlled || !pending) return;
    delete this.decisions[name];
    this.refuse(pending.action, `superseded: step ${name} finished on its own before the decision took effect`, name);
  }

  /**
   * Temporal's own cancellation, taken as an abort: recorded as one (once, even when an operator's abort is already
   * under way). It cannot be refused; the saga reads what it must before it reports.
   */
  abortByTemporal(): void {
    if (!this.abortRequested) {
      this.view.overrides.push({
        action: 'abort',
        operator: 'temporal',
        reason: 'Temporal cancellation was requested (the UI’s Request Cancellation, or temporal workflow cancel)',
        at: now(),
      });
    }
    this.abortRequested = true;
    this.publish();
  }

  /** Whether an abort, or a decision that ends the step (skip, confirm), is waiting for it: a read can stop. */
  stepEnding(name: StepName): boolean {
    const pending = this.decisions[name];
    return this.abortRequested || (pending !== undefined && STEP_ENDING.includes(pending.decision));
  }

  private fits(name: StepName, block: number | undefined): boolean {
    const pending = this.decisions[name];
    if (!pending) return false;
    return !this.controlled || STEP_ENDING.includes(pending.decision) || pending.block === block;
  }

  /** Records an override that was refused (a signal) or discarded, in the status and the UI's current details. */
  refuse(action: OverrideAction, reason: string, step?: StepName): void {
    const refused = this.view.refusedOverrides;
    if (!refused) return;
    const entry: RefusedOverride = { action, reason, at: now(), ...(step && { step }) };
    refused.push(entry);
    refused.splice(0, Math.max(0, refused.length - REFUSALS_KEPT));
    this.publish();
  }

  /** Says that a poll of the step found it not done yet: the saga now waits on it. */
  waitingOn(name: StepName): void {
    if (!this.lean || this.waitedOn.has(name)) return;
    this.waitedOn.add(name);
    this.publish();
  }

  /** Whether the saga waits on the step: it is waiting, and (lean sagas) a poll has found it not done yet. */
  private waits(name: StepName): boolean {
    return this.step(name).state === 'waiting' && (!this.lean || this.waitedOn.has(name));
  }

  /** The overall status, derived from the steps. */
  private deriveStatus(): SagaStatus {
    if (this.view.status === 'completed' || this.view.status === 'aborted') return this.view.status;
    const states = STEPS.map((s) => this.step(s).state);
    if (states.includes('blocked')) return 'needs_attention';
    if (this.waits('recon')) return 'awaiting_recon';
    if (this.waits('payment') && STEPS.every((s) => s === 'payment' || this.isFinished(s))) {
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
    // The last task's attributes go out before the run completes, not after.
    if (this.lean) this.upsertChanged(this.attributePairs());
  }

  /**
   * Lean sagas: writes the search attributes that changed once a workflow task has settled (a round of condition
   * checks passed without a new change), so a task that changes the state several times upserts once. Runs for the
   * saga's life, in a scope Temporal's cancellation does not reach.
   */
  flushAttributes(): void {
    if (!this.lean) return;
    const flushing = CancellationScope.nonCancellable(async () => {
      for (;;) {
        await condition(() => this.attributePairs().length > 0);
        for (let seen = -1; seen !== this.publications;) {
          seen = this.publications;
          await nextRound();
        }
        this.upsertChanged(this.attributePairs());
      }
    });
    flushing.catch(() => undefined);
  }

  /**
   * Lean sagas: the search attributes to write, by the rule of {@link lean}: none unless the status, attention or
   * error type changed, else those with every changed one, the step included.
   */
  private attributePairs(): SearchAttributeUpdatePair[] {
    const pairs: SearchAttributeUpdatePair[] = [
      { key: RefundStatusKey, value: this.view.status },
      { key: NeedsAttentionKey, value: this.view.status === 'needs_attention' },
      { key: RefundErrorTypeKey, value: this.blockedErrorType() },
      // Set by the start; a saga started another way writes them on its first task.
      ...this.startAttributes(),
    ];
    const changed = pairs.filter(({ key, value }) => this.attributes.get(key.name) !== value);
    return changed.length ? [...changed, { key: RefundStepKey, value: this.currentStep() }] : [];
  }

  /** Refreshes status and timestamps, the UI's current details, and the search attributes when they changed. */
  publish(): void {
    this.view.status = this.deriveStatus();
    this.view.updatedAt = now();
    this.publications++;
    setCurrentDetails(this.markdown());
    // Lean sagas write them when the workflow task settles (flushAttributes).
    if (this.lean) return;
    const attributes = {
      status: this.view.status,
      step: this.currentStep(),
      attention: this.view.status === 'needs_attention',
    };
    if (this.controlled) {
      this.upsertChanged([
        { key: RefundStatusKey, value: attributes.status },
        { key: RefundStepKey, value: attributes.step },
        { key: NeedsAttentionKey, value: attributes.attention },
        ...this.startAttributes(),
        ...(this.errorTypeAttribute ? [{ key: RefundErrorTypeKey, value: this.blockedErrorType() }] : []),
      ]);
      return;
    }
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

  /** The attributes `startRefund` sets, which never change. */
  private startAttributes(): SearchAttributeUpdatePair[] {
    return [
      { key: OrderIdKey, value: this.request.orderId },
      { key: CarbonProviderKey, value: this.request.carbon?.provider ?? 'none' },
      { key: CirclePaymentIdKey, value: this.request.payment.paymentId },
    ];
  }

  /** The error type of the blocked step (the first, in step order), or `none`. */
  private blockedErrorType(): string {
    const blocked = STEPS.find((s) => this.step(s).state === 'blocked');
    return (blocked && this.step(blocked).lastError?.type) ?? 'none';
  }

  /**
   * Upserts the attributes whose value differs from what the server holds: on the first task, whatever the start did
   * not set (a saga started by `temporal workflow start` gets them all, `CirclePaymentId` included); later, changes.
   */
  private upsertChanged(pairs: ReadonlyArray<SearchAttributeUpdatePair>): void {
    const changed = pairs.filter(({ key, value }) => this.attributes.get(key.name) !== value);
    if (!changed.length) return;
    for (const { key, value } of changed) this.attributes.set(key.name, value as string | boolean);
    upsertSearchAttributes(changed);
  }

  /** The markdown step table shown as the run's current details in the Temporal UI. */
  markdown(): string {
    const rows = STEPS.map((name) => {
      const s = this.step(name);
      const note = s.lastError ? `${s.lastError.type}: ${s.lastError.message}` : (s.detail ?? '');
      const deadline = s.deadline && !this.isFinished(name) ? ` (deadline ${s.deadline})` : '';
      return `| ${name} | ${s.state} | ${s.attempts} | ${escapeMarkdown(note)}${deadline} |`;
    });
    const lines = [`**Refund ${this.request.orderId}** — ${this.view.status}`, ''];
    if (this.view.status === 'needs_attention') {
      lines.push(
        'Needs an operator: send the update or signal retryStep, skipStep, confirmRecon, extendDeadline or abort.',
        '',
      );
    }
    lines.push('| step | state | attempts | detail |', '|---|---|---|---|', ...rows);
    const refused = this.view.refusedOverrides?.slice(-3) ?? [];
    if (refused.length) {
      lines.push('', 'Refused or discarded overrides, newest last:');
      lines.push(
        ...refused.map((r) => `- ${r.at} ${r.action}${r.step ? ` (${r.step})` : ''}: ${escapeMarkdown(r.reason)}`),
      );
    }
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
    // A decision answers the block current when it was accepted, or the step's wait when it is not blocked.
    const decide = (name: StepName, decision: Decision) => {
      const block = this.step(name).state === 'blocked' ? this.blocks[name] : undefined;
      this.decisions[name] = { decision, action, block };
    };
    // The step's state changes at once, so the update's answer shows the override's effect; the waiting step then
    // picks up the decision.
    switch (action) {
      case 'abort':
        this.abortRequested = true;
        if (this.controlled) {
          // A provider call that may change something is never cut off: say when the abort takes effect.
          for (const name of STEPS.filter((s) => this.step(s).state === 'in_progress')) {
            this.step(name).detail =
              `abort requested by ${input.operator}; takes effect when the call in flight answers`;
          }
        }
        break;
      case 'retryStep':
        decide(step!, 'retry');
        this.generations[step!] += 1;
        if (this.step(step!).lastError?.type === ErrorType.AmountMismatch) this.amountAccepted = true;
        Object.assign(this.step(step!), { state: 'in_progress', detail: `retry requested by ${input.operator}` });
        break;
      case 'confirmRecon':
        decide('recon', 'confirmed');
        Object.assign(this.step('recon'), {
          state: 'succeeded',
          detail: `confirmed by ${input.operator}: ${input.evidence}`,
        });
        break;
      case 'skipStep':
        if (this.step(step!).state !== 'pending') decide(step!, 'skip');
        Object.assign(this.step(step!), { state: 'skipped', detail: `skipped by ${input.operator}: ${input.reason}` });
        break;
      case 'extendDeadline': {
        const current = Date.parse(this.step(step!).deadline ?? now());
        const base = Math.max(current, Date.now());
        decide(step!, 'extended');
        Object.assign(this.step(step!), {
          state: 'waiting',
          deadline: new Date(base + durationMs(input.duration!)).toISOString(),
        });
        break;
      }
    }
    if (step && this.step(step).state !== 'blocked') delete this.step(step).lastError;
    this.publish();
    return this.view;
  }
}
