/**
 * `refundSaga`: one durable workflow per refunded order (docs/design.md, "The saga"). Cancels the Circle payment
 * (the pivot), then the carbon order and the impact, awaits Circle's settlement in the background and the reversal in
 * the recon feed, and completes with a reversal summary. Permanent failures block a step and wait for an operator; the
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
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
  type ActivityOptions,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { z } from 'zod';
import type {
  CarbonCancelResult,
  CircleCancelState,
  ImpactCancelResult,
  OverrideVerdict,
  RefundActivities,
} from '../activities';
import {
  abortSignal,
  abortUpdate,
  circleCancelSettledSignal,
  confirmReconSignal,
  confirmReconUpdate,
  ErrorType,
  extendDeadlineSignal,
  NOT_ACTED_ON,
  extendDeadlineUpdate,
  RefundRequestSchema,
  refundWorkflowId,
  resolveSagaOptions,
  retryStepSignal,
  SAGA_OPTION_DEFAULTS,
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
  type Amount,
  type RefundSagaOptions,
  type SagaStatusView,
  type StepError,
  type StepName,
  type StepOutcome,
} from '../domain';
import { interruptibleRead, pivotRead, providerCall, statusCheck, withBound } from './activity-options';
import {
  overrideVerification,
  takeOverrideVouch,
  UNVOUCHED,
  UNVOUCHED_HINT,
  type OverrideMessage,
} from './override-vouch';
import { formatDuration, SagaRuntime, type Decision } from './saga-runtime';

/**
 * Sagas started since this patch tell the truth about money: the pivot is read before an abort or skip is honoured,
 * amounts are Circle's, keys advance per operator retry and bind the payment id, options and the workflow id are
 * checked. Sagas started before it replay and finish as they began.
 */
export const MONEY_TRUTH_PATCH = 'money-truth-1';

/**
 * Sagas started since this patch stay in the operators' control: Temporal's cancellation is an abort, a retry on a
 * polling block polls at once, decisions answer the block they were made for, refused signals are recorded, and
 * search attributes are written by the workflow itself, only when they change.
 */
export const OPERATOR_CONTROL_PATCH = 'operator-control-1';

/** Sagas started since this patch keep the `RefundErrorType` search attribute current, for lists by why. */
export const ERROR_TYPE_ATTRIBUTE_PATCH = 'error-type-attribute-1';

/**
 * Sagas started since this patch get past a failure the provider stored under the step's key (Stripe's replayed 5xx,
 * `DoNotRetry`) by themselves: a new key after a backoff, as a retry would, until the outage bound; only then does
 * the step wait for an operator.
 */
export const KEY_ROTATION_PATCH = 'key-rotation-1';

/**
 * Sagas started since this patch can have a step skipped while it waits for a new key; and when an operator skips the
 * payment while Circle's accepted cancel is pending, they read Circle once before the result says what became of it
 * (reversed by this saga, settled or not, unless Circle failed it).
 */
export const SKIPPED_PAYMENT_PATCH = 'skipped-payment-1';

/**
 * Sagas started since this patch cost only what they must: search attributes are written when the status, attention
 * or error type changes, at most once per workflow task (see `SagaRuntime`), and a step is `awaiting_*` once a poll
 * found it not done. It is the only marker such a saga records: it implies every patch before it, so a new saga's
 * first task records one marker instead of six.
 */
export const LEAN_PATCH = 'lean-1';

/**
 * Overrides handled since this patch are applied only when the worker takes them (the `verifyOverride` local
 * activity: vouched for, when the worker holds vouching keys), and a vouch applies once. It is checked where an
 * override is handled, not at the start: a saga in flight gets it with its next override, and a history that holds
 * overrides handled before it replays them as they were.
 */
export const OVERRIDE_VOUCH_PATCH = 'override-vouch-1';

/**
 * Overrides handled since this patch have their vouch checked by an activity, not a local activity. A local
 * activity's answer is replayed where its marker stands, which can be before events the saga saw first when it ran
 * (a read that completed while the check ran): an abort applied after that read then replayed as a cancel of it, and
 * the replay failed. An activity's answer is an event of its own, replayed where it happened. Checked first, so a
 * saga records one marker; histories with {@link OVERRIDE_VOUCH_PATCH} replay their local activity.
 */
export const OVERRIDE_VOUCH_ACTIVITY_PATCH = 'override-vouch-2';

/** How an override's vouch is checked: see {@link OVERRIDE_VOUCH_ACTIVITY_PATCH}. */
type VouchCheck = 'activity' | 'local activity';

/** What the patches a saga was started under turn on. */
interface Since {
  /** {@link OPERATOR_CONTROL_PATCH} */
  controlled?: boolean;
  /** {@link ERROR_TYPE_ATTRIBUTE_PATCH} */
  errorTypeAttribute?: boolean;
  /** {@link KEY_ROTATION_PATCH} */
  rotatesKeys?: boolean;
  /** {@link SKIPPED_PAYMENT_PATCH} */
  readsSkippedPayment?: boolean;
  /** {@link LEAN_PATCH} */
  lean?: boolean;
}

/** The recon window starts this long before the impact's cancellation, for clock skew between providers. */
const RECON_SKEW_MS = 10 * 60_000;
/** What an interrupted read returns: an operator's decision ended its step while it ran. */
const CUT_SHORT = Symbol('cut short');
/** The longest the saga reads Circle after a failed cancel before it calls the payment's state unknown. */
const PIVOT_READ_BOUND_MS = 2 * 60_000;
/**
 * New keys after failures stored under the last one: the first and the longest wait before one, and how many the saga
 * sends in a row before an operator decides (about 8.5 minutes of backoff).
 */
const ROTATION = { initialMs: 2_000, maxMs: 5 * 60_000, maxKeys: 8 };

type Attempt<T> = { ok: true; value: T } | { ok: false; decision: 'skip' | 'abort' | 'confirmed' };
/** New keys sent in a row after failures stored under the last one, since the first of their calls began. */
type Rotation = { since: number; delayMs: number; keys: number };

/** A non-retryable failure naming every bad field. */
function invalid(type: ErrorType, what: string, error: z.ZodError): ApplicationFailure {
  const issues = toFieldIssues(error).map((i) => `${i.path} ${i.message}`);
  return ApplicationFailure.nonRetryable(`invalid ${what}: ${issues.join('; ')}`, type);
}

/** The refund saga. */
export async function refundSaga(input: RefundSagaInput): Promise<RefundResult> {
  // Checked first: a saga started since it has no other marker; one started before it finds none, and reads on.
  const lean = patched(LEAN_PATCH);
  const truthful = lean || patched(MONEY_TRUTH_PATCH);
  const parsed = RefundRequestSchema.safeParse(input.request);
  if (!parsed.success) throw invalid(ErrorType.InvalidRequest, 'refund request', parsed.error);
  if (!truthful) return new RefundSaga(parsed.data, { ...SAGA_OPTION_DEFAULTS, ...input.options }, false).run();

  const options = resolveSagaOptions(input.options);
  if (!options.ok) throw invalid(ErrorType.InvalidOptions, 'saga options', options.error);
  // Keys and the one-saga-per-order rule hang on the id: a saga started by hand under another id would be a second one.
  const expectedId = refundWorkflowId(parsed.data.orderId);
  if (workflowInfo().workflowId !== expectedId) {
    throw ApplicationFailure.nonRetryable(
      `workflow id "${workflowInfo().workflowId}" must be "${expectedId}" for order ${parsed.data.orderId}; start refunds with startRefund, the HTTP API or the CLI`,
      ErrorType.InvalidOptions,
    );
  }
  return new RefundSaga(parsed.data, options.options, true, lean ? SINCE_LEAN : patchesBeforeLean()).run();
}

/** Everything on: a saga started since {@link LEAN_PATCH}. */
const SINCE_LEAN: Since = {
  controlled: true,
  errorTypeAttribute: true,
  rotatesKeys: true,
  readsSkippedPayment: true,
  lean: true,
};

/** What a saga started before {@link LEAN_PATCH} turned on, read from its markers. */
function patchesBeforeLean(): Since {
  // In the order the patches were added: each call found its marker in the saga's first task.
  const since: Since = { controlled: patched(OPERATOR_CONTROL_PATCH) };
  since.errorTypeAttribute = patched(ERROR_TYPE_ATTRIBUTE_PATCH);
  since.rotatesKeys = patched(KEY_ROTATION_PATCH);
  since.readsSkippedPayment = patched(SKIPPED_PAYMENT_PATCH);
  return since;
}

class RefundSaga {
  private readonly saga: SagaRuntime;
  private readonly workflowId = workflowInfo().workflowId;
  private payment: {
    cancelId?: string;
    settlement?: 'confirmed' | 'paid';
    amount?: Amount;
    byThisSaga?: boolean;
    /** What Circle last said of the cancel. */
    lastRead?: CircleCancelState['status'];
  } = {};
  private carbon?: CarbonCancelResult;
  private impact?: ImpactCancelResult;
  private recon: { recordId?: string; fundsDateTime?: string } = {};
  private pivotPassed = false;
  /** The MACs of the vouches this saga has taken: a vouch copied onto a second message is refused. */
  private readonly usedVouches = new Set<string>();

  private readonly controlled: boolean;
  private readonly rotatesKeys: boolean;
  private readonly readsSkippedPayment: boolean;

  constructor(
    private readonly request: RefundRequest,
    private readonly options: Required<RefundSagaOptions>,
    /** Started since {@link MONEY_TRUTH_PATCH}. */
    private readonly truthful: boolean,
    since: Since = {},
  ) {
    this.controlled = since.controlled ?? false;
    this.rotatesKeys = since.rotatesKeys ?? false;
    this.readsSkippedPayment = since.readsSkippedPayment ?? false;
    this.saga = new SagaRuntime(request, this.controlled, since.errorTypeAttribute ?? false, since.lean ?? false);
    if (truthful) this.saga.pivot = 'untouched';
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
      // The vouch is taken before anything else: the interceptor hands it over only until the handler first awaits.
      // Overrides handled before the patch stay synchronous, as their histories recorded them.
      setHandler(
        update as typeof retryStepUpdate,
        (arg) => {
          const message = takeOverrideVouch() ?? { header: undefined, args: [arg] };
          const check = this.vouchCheck();
          if (check) return this.applyVouchedUpdate(action, arg, message, check);
          return this.applyUpdate(action, arg);
        },
        {
          validator: (arg) => {
            const reason = this.saga.rejection(action, arg);
            if (reason) throw new Error(reason);
          },
        },
      );
      setHandler(signal as typeof retryStepSignal, (arg) => {
        const message = takeOverrideVouch() ?? { header: undefined, args: [arg] };
        const check = this.vouchCheck();
        if (check) return this.applyVouchedSignal(action, arg, message, check);
        this.applySignal(action, arg);
      });
    }
    setHandler(circleCancelSettledSignal, () => {
      this.saga.settlementNudged = true;
    });
  }

  /** An update the validator accepted; a failure to apply it fails the update, never the workflow task. */
  private applyUpdate(action: OverrideAction, arg: Parameters<SagaRuntime['apply']>[1]) {
    if (!this.controlled) return this.saga.apply(action, arg);
    try {
      return this.saga.apply(action, arg);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${action} could not be applied: ${(err as Error).message}`, 'Rejected');
    }
  }

  /**
   * Signals cannot be rejected to their sender: a senseless one is ignored, and recorded in the status and the UI's
   * current details with the reason. No input makes the handler throw.
   */
  private applySignal(action: OverrideAction, arg: unknown): void {
    let reason: string | undefined;
    try {
      reason = this.saga.rejection(action, arg);
      if (!reason) this.saga.apply(action, arg as Parameters<SagaRuntime['apply']>[1]);
    } catch (err) {
      if (!this.controlled) throw err;
      reason = `could not be applied: ${(err as Error).message}`;
    }
    if (reason) this.refuseSignal(action, arg, reason);
  }

  private refuseSignal(action: OverrideAction, arg: unknown, reason: string): void {
    log.warn(`ignored ${action} signal: ${reason}`);
    const step = (arg as { step?: unknown } | null)?.step;
    this.saga.refuse(action, reason, STEPS.includes(step as StepName) ? (step as StepName) : undefined);
  }

  /**
   * An update the validator accepted, handled since {@link OVERRIDE_VOUCH_PATCH}: applied once the worker takes it,
   * and if it still makes sense then (the saga may have moved on meanwhile); else it fails, and changes nothing.
   */
  private async applyVouchedUpdate(
    action: OverrideAction,
    arg: Parameters<SagaRuntime['apply']>[1],
    message: OverrideMessage,
    check: VouchCheck,
  ): Promise<SagaStatusView> {
    const refusal = await this.checkVouch(action, message, check);
    if (refusal) {
      throw ApplicationFailure.nonRetryable(
        `${action} was not applied: not vouched for (${refusal}); ${UNVOUCHED_HINT}`,
        UNVOUCHED,
      );
    }
    const reason = this.saga.rejection(action, arg);
    if (reason) throw ApplicationFailure.nonRetryable(reason, 'Rejected');
    return this.applyUpdate(action, arg);
  }

  /** A signal handled since {@link OVERRIDE_VOUCH_PATCH}: one the worker does not take is refused, and recorded. */
  private async applyVouchedSignal(
    action: OverrideAction,
    arg: unknown,
    message: OverrideMessage,
    check: VouchCheck,
  ): Promise<void> {
    const refusal = await this.checkVouch(action, message, check);
    if (refusal) this.refuseSignal(action, arg, `not vouched for: ${refusal}`);
    else this.applySignal(action, arg);
  }

  /**
   * Has the worker check the override's vouch (`verifyOverride`, a local activity: history keeps its answer, so the
   * saga replays the same whatever the worker's keys are by then); returns why it is refused, or `undefined`. A vouch
   * already taken is refused: copying a header cannot apply an override twice.
   */
  private async checkVouch(
    action: OverrideAction,
    { header, args }: OverrideMessage,
    check: VouchCheck,
  ): Promise<string | undefined> {
    let verdict: OverrideVerdict;
    try {
      const options = { ...overrideVerification, summary: `Check who vouches for the ${action} override` };
      const { verifyOverride } =
        check === 'activity'
          ? proxyActivities<RefundActivities>(options)
          : proxyLocalActivities<RefundActivities>(options);
      // Temporal's cancellation of the saga does not cut the check short: the override is still answered.
      verdict = await CancellationScope.nonCancellable(() =>
        verifyOverride({ workflowId: this.workflowId, name: action, header, args }),
      );
    } catch (err) {
      return `the vouch could not be checked: ${(err as Error).message}`;
    }
    if (!verdict.accepted) return verdict.reason ?? 'the worker did not take it';
    if (!verdict.vouched) return undefined;
    const { mac } = header as { mac: string };
    if (this.usedVouches.has(mac)) return 'this vouch was already used; a vouch applies one override, once';
    this.usedVouches.add(mac);
    return undefined;
  }

  /**
   * How this override's vouch is checked: by an activity since {@link OVERRIDE_VOUCH_ACTIVITY_PATCH}, by a local
   * activity in histories of {@link OVERRIDE_VOUCH_PATCH}, not at all before either.
   */
  private vouchCheck(): VouchCheck | undefined {
    if (patched(OVERRIDE_VOUCH_ACTIVITY_PATCH)) return 'activity';
    if (patched(OVERRIDE_VOUCH_PATCH)) return 'local activity';
    return undefined;
  }

  /** Polls of sagas whose decisions cut reads short wait for the cancellation to be recorded; see `interruptibleRead`. */
  private get pollOptions() {
    return this.controlled ? interruptibleRead : statusCheck;
  }

  private activities(options: ActivityOptions, summary: string) {
    return proxyActivities<RefundActivities>(withBound(options, this.options.outageEscalationMs, summary));
  }

  /** The step's key of generation `generation` (1 for sagas started before key generations). */
  private key(step: StepName, generation: number): string {
    if (!this.truthful) {
      return step === 'payment'
        ? stepIdempotencyUuid(this.workflowId, 'payment')
        : stepIdempotencyKey(this.workflowId, step);
    }
    // Circle's keys bind the payment id: a key can then never be reused for another payment (Circle's 409).
    return step === 'payment'
      ? stepIdempotencyUuid(this.workflowId, `payment:${this.request.payment.paymentId}`, generation)
      : stepIdempotencyKey(this.workflowId, step, generation);
  }

  /** The step's current key, and the keys of earlier generations whose call may have reached the provider. */
  private keys(step: StepName): { idempotencyKey: string; earlierKeys: string[] } {
    const generation = this.truthful ? this.saga.generations[step] : 1;
    const earlier = this.controlled
      ? this.saga.mayHaveActed[step].filter((g) => g < generation)
      : Array.from({ length: generation - 1 }, (_, i) => i + 1);
    return { idempotencyKey: this.key(step, generation), earlierKeys: earlier.map((g) => this.key(step, g)) };
  }

  /** Notes that the step's current call failed without a clear refusal: the provider may have acted on it. */
  private noteFailure(step: StepName, error: StepError): void {
    const generation = this.saga.generations[step];
    const acted = this.saga.mayHaveActed[step];
    if (!NOT_ACTED_ON.includes(error.type as ErrorType) && !acted.includes(generation)) acted.push(generation);
  }

  /**
   * Runs the saga. Temporal's own cancellation (the UI's "Request Cancellation", `temporal workflow cancel`) is an
   * abort: the saga finishes through the abort path in a scope that cannot be cancelled, and returns its result.
   */
  async run(): Promise<RefundResult> {
    if (!this.controlled) return this.runSteps();
    this.saga.flushAttributes();
    try {
      return await this.runSteps();
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return CancellationScope.nonCancellable(() => this.abortOnCancellation());
    }
  }

  private async abortOnCancellation(): Promise<RefundResult> {
    this.saga.abortByTemporal();
    if (!this.pivotPassed) await this.settlePivotBeforeAbort();
    await this.readSkippedPayment();
    return this.finish('aborted');
  }

  /**
   * An operator skipped the payment while this saga's accepted cancel was pending: Circle is read once, so the result
   * says what became of the cancel, not what the last poll (up to `pollMaxMs` old) saw. Unreadable, the skip stands.
   */
  private async readSkippedPayment(): Promise<void> {
    if (!this.readsSkippedPayment || !this.payment.cancelId || this.payment.lastRead !== 'pending') return;
    if (!this.saga.view.overrides.some((o) => o.action === 'skipStep' && o.step === 'payment')) return;
    const { idempotencyKey, earlierKeys } = this.keys('payment');
    const found = await this.readPivot([idempotencyKey, ...earlierKeys]);
    this.payment.lastRead = found?.status;
    if (found?.status === 'confirmed' || found?.status === 'paid') this.payment.settlement = found.status;
  }

  private async runSteps(): Promise<RefundResult> {
    this.saga.publish();
    const { paymentId } = this.request.payment;

    const pivot = this.truthful
      ? await this.runPayment()
      : await this.runStep('payment', () =>
          this.activities(providerCall, `Cancel Circle payment ${paymentId.slice(0, 8)}…`).cancelCirclePayment({
            paymentId,
            idempotencyKey: this.key('payment', 1),
          }),
        );
    if (!pivot.ok && pivot.decision === 'abort') {
      if (this.controlled) await this.settlePivotBeforeAbort();
      return this.finish('aborted');
    }
    this.pivotPassed = true;
    const settlement = pivot.ok ? this.awaitSettlement(pivot.value) : Promise.resolve();
    // A cancellation ends the main path first; the wait's own rejection must not go unhandled.
    if (this.controlled) settlement.catch(() => undefined);

    await this.runCarbon();
    if (!this.saga.abortRequested) await this.runImpact();
    if (!this.saga.abortRequested) await this.awaitRecon();
    await settlement;
    await this.readSkippedPayment();
    return this.finish(this.saga.abortRequested ? 'aborted' : 'completed');
  }

  /**
   * The pivot, check-then-act: the activity reads the payment before it cancels. After any failure but an amount
   * mismatch (which comes from a read), Circle is read again before anyone decides: a cancel found means the pivot has
   * passed; none found means an abort changes nothing; no answer leaves the state unknown, and abort and skip wait for
   * a retry.
   */
  private async runPayment(): Promise<Attempt<CircleCancelState>> {
    const { paymentId } = this.request.payment;
    if (this.saga.step('payment').state === 'skipped') return { ok: false, decision: 'skip' };
    for (;;) {
      if (this.saga.abortRequested) return { ok: false, decision: 'abort' };
      const { idempotencyKey, earlierKeys } = this.keys('payment');
      this.saga.pivot = 'in_flight';
      this.saga.update('payment', { state: 'in_progress', attempts: this.saga.step('payment').attempts + 1 });
      let error: StepError;
      const cancel = () =>
        this.activities(providerCall, `Cancel Circle payment ${paymentId.slice(0, 8)}…`).cancelCirclePayment({
          paymentId,
          idempotencyKey,
          earlierKeys,
          expectedAmount: this.request.amount,
          acceptAmount: this.saga.amountAccepted,
        });
      try {
        // A cancel in flight is never cut off: whatever stops the saga takes effect once Circle has answered.
        const value = await (this.controlled ? CancellationScope.nonCancellable(cancel) : cancel());
        this.saga.pivot = 'passed';
        return { ok: true, value };
      } catch (err) {
        error = this.describeFailure(err);
        if (this.controlled) this.noteFailure('payment', error);
      }
      if (error.type === ErrorType.AmountMismatch) {
        this.saga.pivot = 'not_cancelled';
      } else {
        const found = await this.readPivot([idempotencyKey, ...earlierKeys]);
        if (found && found.status !== 'none') {
          this.saga.pivot = 'passed';
          return { ok: true, value: found };
        }
        this.saga.pivot = found ? 'not_cancelled' : 'unknown';
        error.message += found
          ? '. Circle shows no cancel of this payment: an abort changes nothing'
          : ". Circle could not be read, so whether the cancel took effect is unknown: the payment's state is unknown; retry first";
      }
      const decision = await this.blockUntilDecided('payment', error);
      if (decision === 'skip') this.markSkipped('payment');
      if (decision !== 'retry' && decision !== 'extended') return { ok: false, decision };
    }
  }

  /** Reads Circle's payment after a failed cancel; `undefined` when Circle cannot be read within a short bound. */
  private async readPivot(keys: string[]): Promise<CircleCancelState | undefined> {
    const { paymentId } = this.request.payment;
    const bound = Math.min(this.options.outageEscalationMs, PIVOT_READ_BOUND_MS);
    try {
      return await proxyActivities<RefundActivities>(
        withBound(
          pivotRead,
          bound,
          `Read Circle payment ${paymentId.slice(0, 8)}… to see whether the cancel took effect`,
        ),
      ).getCircleCancelStatus({ paymentId, keys });
    } catch (err) {
      if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
      // Circle does not know the payment: nothing of it can have been cancelled.
      const notFound = err.cause instanceof ApplicationFailure && err.cause.type === ErrorType.NotFound;
      return this.controlled && notFound ? { status: 'none' } : undefined;
    }
  }

  /**
   * Before an abort reports the payment, reads Circle once more when a cancel may have been sent (a call failed
   * without a clear refusal, or was in flight): a cancel found, or no answer, hands the payment and everything after it
   * to manual handling rather than saying nothing changed.
   */
  private async settlePivotBeforeAbort(): Promise<void> {
    const mayHaveActed = this.saga.mayHaveActed.payment.length > 0 || this.saga.pivot === 'in_flight';
    if (!this.truthful || !mayHaveActed) return;
    const { idempotencyKey, earlierKeys } = this.keys('payment');
    const found = await this.readPivot([idempotencyKey, ...earlierKeys]);
    if (found?.status === 'none') return;
    this.pivotPassed = true;
    if (found) {
      this.payment = {
        cancelId: found.cancelId,
        amount: found.amount,
        byThisSaga: found.byThisSaga,
        lastRead: found.status,
      };
    }
    this.saga.update('payment', {
      detail: found
        ? `Circle holds cancel ${found.cancelId} (${found.status}); left for manual handling`
        : 'whether Circle cancelled the payment is unknown (Circle could not be read); left for manual handling',
    });
  }

  /**
   * Calls a provider until it answers, a permanent failure meets an operator's decision, or the saga is aborted.
   * Each failure blocks the step; `retryStep` calls again.
   */
  private async attempt<T>(step: StepName, call: () => Promise<T>, interruptible = false): Promise<Attempt<T>> {
    let rotation: Rotation | undefined;
    for (;;) {
      if (this.saga.abortRequested) return { ok: false, decision: 'abort' };
      // Cancelled by Temporal: no call can be made any more, and none is counted.
      if (this.controlled && CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled');
      const current = this.saga.step(step);
      const calledAt = Date.now();
      this.saga.update(step, {
        state: current.state === 'waiting' ? 'waiting' : 'in_progress',
        attempts: current.attempts + 1,
      });
      try {
        const value = !this.controlled
          ? await call()
          : interruptible
            ? await this.interruptible(step, call)
            : // A call that may change something is never cut off: whatever stops the saga waits for its answer.
              await CancellationScope.nonCancellable(call);
        if (value === CUT_SHORT) {
          return { ok: false, decision: this.saga.takeDecision(step) as 'skip' | 'abort' | 'confirmed' };
        }
        return { ok: true, value };
      } catch (err) {
        if (isCancellation(err) && this.controlled) throw err;
        const error = this.describeFailure(err);
        if (this.controlled) this.noteFailure(step, error);
        if (this.rotatesKeys && error.type === ErrorType.DoNotRetry) {
          rotation ??= { since: calledAt, delayMs: ROTATION.initialMs, keys: 0 };
          const next = await this.rotateKey(step, error, rotation);
          if (next === 'again') continue;
          if (next !== 'block') return { ok: false, decision: next };
        }
        rotation = undefined;
        const decision = await this.blockUntilDecided(step, error);
        if (decision !== 'retry' && decision !== 'extended') return { ok: false, decision };
      }
    }
  }

  /**
   * After a failure the provider stored under the step's key (`DoNotRetry`: the same key would replay it), starts a
   * new key generation and waits out a backoff before the next call, as a retry would; the call reads the provider's
   * state before acting and checks the earlier keys, so a new key cannot cancel twice. The step waits meanwhile, so an
   * operator can skip it. Past the outage bound, or after {@link ROTATION}`.maxKeys` new keys, it says `block`, and the
   * step waits for an operator; an abort or a decision ending the step during the wait is returned.
   */
  private async rotateKey(
    step: StepName,
    error: StepError,
    rotation: Rotation,
  ): Promise<'again' | 'block' | 'skip' | 'abort' | 'confirmed'> {
    const elapsed = Date.now() - rotation.since;
    if (elapsed + rotation.delayMs > this.options.outageEscalationMs || rotation.keys >= ROTATION.maxKeys) {
      if (rotation.keys > 0) {
        error.message += `; ${rotation.keys} new key(s) over ${formatDuration(elapsed)} met the same: retryStep tries new keys again`;
      }
      return 'block';
    }
    const wait = rotation.delayMs;
    rotation.delayMs = Math.min(wait * 2, ROTATION.maxMs);
    rotation.keys += 1;
    this.saga.generations[step] += 1;
    this.saga.update(step, {
      // Waiting, no call in flight: an operator can skip the step meanwhile.
      ...(this.readsSkippedPayment && { state: 'waiting' as const }),
      detail: `the provider stored a failure under the last key (${error.message}); a new key in ${formatDuration(wait)}`,
    });
    await condition(() => this.saga.hasDecision(step), wait, {
      summary: `New ${step} key in ${formatDuration(wait)}: the provider stored a failure under the last one`,
    });
    const decision = this.saga.takeDecision(step);
    if (decision === 'skip' || decision === 'abort' || decision === 'confirmed') return decision;
    if (this.readsSkippedPayment) this.saga.update(step, { state: 'in_progress' });
    return 'again';
  }

  /**
   * Runs a read (a poll) so that an abort or a decision ending its step (skip, confirm) cuts it short, even while the
   * read is being retried through an outage; a call that may change something is never run this way.
   */
  private async interruptible<T>(step: StepName, read: () => Promise<T>): Promise<T | typeof CUT_SHORT> {
    const reading = new CancellationScope();
    const watching = new CancellationScope();
    const ending = () => this.saga.stepEnding(step);
    watching
      .run(() => condition(ending))
      .then(
        () => reading.cancel(),
        () => undefined,
      );
    try {
      return await reading.run(read);
    } catch (err) {
      if (isCancellation(err) && ending() && !CancellationScope.current().consideredCancelled) return CUT_SHORT;
      throw err;
    } finally {
      watching.cancel();
    }
  }

  /** Runs a step once to success, skip or abort. */
  private async runStep<T>(step: StepName, call: () => Promise<T>): Promise<Attempt<T>> {
    if (this.saga.step(step).state === 'skipped') return { ok: false, decision: 'skip' };
    const result = await this.attempt(step, call);
    if (!result.ok && result.decision === 'skip') this.markSkipped(step);
    return result;
  }

  /** Marks the step skipped, saying who skipped it, why, and on what evidence. */
  private markSkipped(step: StepName): void {
    const evidence = this.saga.evidence[step];
    const skip = [...this.saga.view.overrides].reverse().find((o) => o.action === 'skipStep' && o.step === step);
    const who = skip ? `${skip.operator}: ${skip.reason}` : 'an operator';
    this.saga.update(step, {
      state: 'skipped',
      detail: `skipped by ${who}${evidence ? ` (evidence: ${evidence})` : ''}`,
    });
  }

  /** Blocks the step until an operator decides; the saga shows `needs_attention` meanwhile. */
  private async blockUntilDecided(step: StepName, error: StepError): Promise<Exclude<Decision, 'retry'> | 'retry'> {
    const block = this.saga.block(step, error);
    await condition(() => this.saga.hasDecision(step, block));
    return this.saga.takeDecision(step, block)!;
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
    const result = await this.runStep('carbon', () => {
      const keys = this.keys('carbon');
      return carbon.provider === 'stripe_climate'
        ? this.activities(providerCall, `Cancel Stripe Climate order ${carbon.orderId}`).cancelStripeClimateOrder({
            orderId: carbon.orderId,
            ...(this.truthful ? keys : { idempotencyKey: keys.idempotencyKey }),
          })
        : this.activities(providerCall, `Cancel SQUAKE purchase ${carbon.purchaseId}`).cancelSquakePurchase({
            purchaseId: carbon.purchaseId,
            ...(this.truthful ? keys : { idempotencyKey: keys.idempotencyKey }),
          });
    });
    if (!result.ok) return;
    this.carbon = result.value;
    const fees = result.value.feesNotRefunded
      ? `, fees kept ${result.value.feesNotRefunded.value} ${result.value.feesNotRefunded.currency}`
      : '';
    const what = result.value.detail ?? (result.value.outcome === 'reversed' ? 'cancelled' : 'was already cancelled');
    this.saga.update('carbon', { state: 'succeeded', detail: `${what}${fees}` });
  }

  private async runImpact(): Promise<void> {
    const impact = this.request.impact;
    if (!impact) return;
    const result = await this.runStep('impact', () =>
      this.activities(providerCall, `Cancel 1ClickImpact impact of ${impact.userId}`).cancelImpact({
        userId: impact.userId,
        timeUtc: impact.timeUtc,
        reason: this.request.reason,
        ...(this.truthful && { sagaId: this.workflowId }),
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
    poll: () => Promise<Attempt<'done' | 'again' | 'now'>>,
    nudged: () => boolean = () => false,
  ): Promise<'done' | 'skip' | 'abort' | 'confirmed'> {
    this.saga.update(step, { state: 'waiting', deadline: new Date(Date.now() + deadlineMs).toISOString() });
    let delay = this.options.pollInitialMs;
    for (;;) {
      const result = await poll();
      if (!result.ok) return result.decision;
      if (result.value === 'done') {
        this.saga.supersede(step);
        return 'done';
      }
      if (result.value === 'now') {
        // An operator's retry means now: poll at once, from the first interval again.
        delay = this.options.pollInitialMs;
        continue;
      }
      this.saga.waitingOn(step);

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
    this.payment = {
      cancelId: accepted.cancelId,
      amount: accepted.amount,
      byThisSaga: accepted.byThisSaga,
      lastRead: accepted.status,
    };
    let status = accepted.status;
    const outcome = await this.pollUntil(
      'payment',
      this.options.settlementDeadlineMs,
      (ms) => `Wait ${formatDuration(ms)} for Circle cancel to settle`,
      async () => {
        if (status === 'pending' || status === 'none') {
          this.saga.settlementNudged = false;
          const read = await this.attempt(
            'payment',
            () =>
              this.activities(
                this.pollOptions,
                `Check Circle cancel of ${paymentId.slice(0, 8)}…`,
              ).getCircleCancelStatus({
                paymentId,
              }),
            true,
          );
          if (!read.ok) return read;
          status = read.value.status;
          this.payment.lastRead = status;
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
        return { ok: true, value: this.controlled ? 'now' : 'again' };
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
    const since = new Date(this.reconWindowStart() - RECON_SKEW_MS).toISOString();
    const outcome = await this.pollUntil(
      'recon',
      this.options.reconDeadlineMs,
      (ms) => `Wait ${formatDuration(ms)} for the recon feed to show the reversal`,
      async () => {
        const lookup = await this.attempt(
          'recon',
          () =>
            this.activities(
              this.pollOptions,
              `Look for the reversal of allocation ${recon.fundsAllocationId.slice(0, 8)}…`,
            ).findReconReversal({
              fundsAllocationId: recon.fundsAllocationId,
              consumerReference: recon.consumerReference,
              since,
            }),
          true,
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
        return { ok: true, value: this.controlled ? 'now' : 'again' };
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

  /**
   * Where the recon feed is read from: the impact's cancellation when this saga cancelled it; otherwise (cancelled
   * before, skipped, or a time that cannot be read) the impact's own time, since its reversal may be anywhere after.
   */
  private reconWindowStart(): number {
    const cancelledAt = Date.parse(this.impact?.cancelledOn ?? '');
    const impactTime = Date.parse(this.request.impact?.timeUtc ?? '');
    if (!this.truthful) {
      // Sagas started earlier keep their window, unless the time cannot be read (that used to wedge the run).
      if (this.impact?.cancelledOn === undefined) return Date.now();
      return Number.isNaN(cancelledAt) ? impactTime : cancelledAt;
    }
    return this.impact?.outcome === 'reversed' && !Number.isNaN(cancelledAt) ? cancelledAt : impactTime;
  }

  private finish(requested: 'completed' | 'aborted'): RefundResult {
    // An abort that finds nothing left to do has changed nothing: the refund is complete.
    const outcome = this.controlled && STEPS.every((s) => this.saga.isFinished(s)) ? 'completed' : requested;
    this.saga.finish(outcome);
    const view = this.saga.view;
    const stepOutcome = (step: StepName, reversed: StepOutcome = 'reversed'): StepOutcome => {
      const state = view.steps[step].state;
      if (state === 'not_applicable' || state === 'skipped') return state;
      if (state === 'succeeded') {
        // Confirmed by an operator only when the feed showed no reversal; a record found is the reversal.
        return step === 'recon' && !this.recon.recordId && view.overrides.some((o) => o.action === 'confirmRecon')
          ? 'confirmed_by_operator'
          : reversed;
      }
      return this.pivotPassed ? 'left_for_manual_handling' : 'not_started';
    };
    const { request } = this;
    const paymentReversal = this.payment.byThisSaga === false ? 'already_reversed' : 'reversed';
    // An operator's skip of the payment does not undo a cancel Circle accepted and did not fail: it reversed the
    // payment (its settlement unseen); only a cancel Circle failed leaves the skip as what happened.
    const cancelStands =
      this.readsSkippedPayment &&
      !!this.payment.cancelId &&
      ['pending', 'confirmed', 'paid'].includes(this.payment.lastRead ?? 'none');
    const paymentSkipped = view.overrides.some((o) => o.action === 'skipStep' && o.step === 'payment');
    const outcomes: Record<StepName, StepOutcome> = {
      payment: cancelStands && paymentSkipped ? paymentReversal : stepOutcome('payment', paymentReversal),
      carbon: stepOutcome('carbon', this.carbon?.outcome),
      impact: stepOutcome('impact', this.impact?.outcome),
      recon: stepOutcome('recon'),
    };
    const result: RefundResult = {
      orderId: request.orderId,
      outcome,
      payment: {
        outcome: outcomes.payment,
        paymentId: request.payment.paymentId,
        cancelId: this.payment.cancelId,
        settlement: this.payment.settlement,
        // What Circle cancels; sagas started before amounts were read reported the request's.
        amount: this.truthful ? this.payment.amount : request.amount,
        ...(this.truthful && { requestedAmount: request.amount }),
      },
      carbon: {
        outcome: outcomes.carbon,
        provider: request.carbon?.provider,
        resourceId: request.carbon
          ? request.carbon.provider === 'stripe_climate'
            ? request.carbon.orderId
            : request.carbon.purchaseId
          : undefined,
        refunded: this.carbon?.refunded,
        feesNotRefunded: this.carbon?.feesNotRefunded,
        tonnes: this.carbon?.tonnes,
        detail: this.carbon?.detail,
      },
      impact: {
        outcome: outcomes.impact,
        userId: request.impact?.userId,
        timeUtc: request.impact?.timeUtc,
        cancelledOn: this.impact?.cancelledOn,
        reversed: this.impact?.reversed,
      },
      recon: { outcome: outcomes.recon, ...this.recon, evidence: this.saga.evidence.recon },
      leftForManualHandling: this.pivotPassed ? STEPS.filter((s) => outcomes[s] === 'left_for_manual_handling') : [],
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
