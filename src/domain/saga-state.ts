/**
 * The saga's observable state (design.md, "Saga status"): what the `status` query and `GET /v1/refunds/{orderId}`
 * return.
 */

/** The saga's steps, in order. Validation is not a step: an invalid request never starts a saga. */
export const STEPS = ['payment', 'carbon', 'impact', 'recon'] as const;
export type StepName = (typeof STEPS)[number];

/** Overall saga status, also the `RefundStatus` search attribute. */
export const SAGA_STATUSES = [
  'running',
  'awaiting_settlement',
  'awaiting_recon',
  'needs_attention',
  'completed',
  'aborted',
] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

/** State of one step. */
export const STEP_STATES = [
  'pending',
  'in_progress',
  'waiting',
  'blocked',
  'succeeded',
  'skipped',
  'not_applicable',
] as const;
export type StepState = (typeof STEP_STATES)[number];

/** The last error a step met, as an operator needs to see it. */
export interface StepError {
  type: string;
  message: string;
  provider?: string;
  status?: number;
  requestId?: string;
}

/** One step's state. */
export interface StepStatus {
  state: StepState;
  attempts: number;
  lastError?: StepError;
  /** ISO time by which a waiting step must be done. */
  deadline?: string;
  /** A short human sentence about what the step did or waits for. */
  detail?: string;
}

/** The operator overrides. */
export const OVERRIDE_ACTIONS = ['retryStep', 'skipStep', 'confirmRecon', 'extendDeadline', 'abort'] as const;
export type OverrideAction = (typeof OVERRIDE_ACTIONS)[number];

/** An override as recorded in the saga's state. */
export interface AppliedOverride {
  action: OverrideAction;
  step?: StepName;
  operator: string;
  reason: string;
  at: string;
}
