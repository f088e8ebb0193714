/**
 * Which overrides fit a refund's current block, and what each asks of the operator: the console offers these as
 * forms, so an operator never has to know all five actions and their inputs to resolve a stuck refund.
 */
import { ErrorType, STEPS, type OverrideAction, type SagaStatusView, type StepName } from '../domain';

/** One override the console offers for a block, with the inputs its form asks for. */
export interface FittingOverride {
  action: OverrideAction;
  /** The step it acts on, fixed by the block (absent for `confirmRecon`, which is always recon's). */
  step?: StepName;
  /** The button's words. */
  label: string;
  /** When an operator should choose it, in words for someone who has never seen the saga's internals. */
  when: string;
  /** `required` for `confirmRecon`, `optional` for `skipStep`, absent where the action takes none. */
  evidence?: 'required' | 'optional';
  /** True for `extendDeadline`: the form asks for a duration. */
  duration?: boolean;
}

/** The step that blocks the saga, with its error type; undefined when nothing is blocked. */
export function blockOf(view: SagaStatusView): { step: StepName; errorType?: string; message?: string } | undefined {
  const step = STEPS.find((s) => view.steps[s].state === 'blocked');
  if (!step) return undefined;
  const error = view.steps[step].lastError;
  return { step, errorType: error?.type, message: error?.message };
}

const retry = (step: StepName, when: string): FittingOverride => ({
  action: 'retryStep',
  step,
  label: `Retry the ${step} step now`,
  when,
});
const skip = (step: StepName, when: string): FittingOverride => ({
  action: 'skipStep',
  step,
  label: `Mark ${step} as done by hand`,
  when,
  evidence: 'optional',
});
const confirmRecon: FittingOverride = {
  action: 'confirmRecon',
  label: 'Confirm the reversal by hand',
  when: 'You checked the reversal yourself (the funds-allocations feed, or with finance): give what you checked as evidence.',
  evidence: 'required',
};
const extend = (step: StepName): FittingOverride => ({
  action: 'extendDeadline',
  step,
  label: `Give ${step} more time`,
  when: 'The provider is late but will get there: wait longer before asking again.',
  duration: true,
});

/**
 * The one or two overrides that fit the block, most likely first; none when nothing is blocked. `abort` is never among
 * them: it is offered apart, as the way out when none fits.
 */
export function fittingOverrides(view: SagaStatusView): FittingOverride[] {
  const block = blockOf(view);
  if (!block || view.status !== 'needs_attention') return [];
  const { step, errorType } = block;
  switch (errorType) {
    case ErrorType.ReconMismatch:
      return [confirmRecon];
    case ErrorType.WindowClosed:
    case ErrorType.NotEligible:
    case ErrorType.NotFound:
      return [
        skip(step, 'The provider will not cancel this any more: refund it in their dashboard, then record it here.'),
      ];
    case ErrorType.DeadlinePassed:
      return step === 'recon'
        ? [extend(step), confirmRecon]
        : [extend(step), retry(step, 'Ask the provider again now, whatever the deadline.')];
    case ErrorType.ProviderOutage:
    case ErrorType.DoNotRetry:
      return [retry(step, 'The provider is answering again (check its status page): send the call once more.')];
    case ErrorType.Unauthorized:
    case ErrorType.MalformedResponse:
      return [retry(step, 'Once the worker’s credentials or the provider are fixed: send the call once more.')];
    case ErrorType.AmountMismatch:
      return [
        retry(step, 'You checked the payment’s amount and want this refund to go ahead with it.'),
        skip(step, 'The payment was refunded another way: record it here.'),
      ];
    default:
      return [
        retry(step, 'The cause is fixed: send the call once more.'),
        skip(step, 'It was resolved outside the saga: record it here.'),
      ];
  }
}
