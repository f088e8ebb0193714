/**
 * The saga's observable state (docs/design.md, "Saga status"): what the `status` query and
 * `GET /v1/refunds/{orderId}` return.
 */
import type { RefundRequest } from './refund-request';

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

/** An override that was refused (a signal, which cannot answer its sender) or discarded (it answered another block). */
export interface RefusedOverride {
  action: OverrideAction;
  step?: StepName;
  reason: string;
  at: string;
}

/** How a run ended without the saga finishing it (terminated, timed out, …), as `GET` and the list report it. */
export type RunEnd = 'terminated' | 'timed_out' | 'failed' | 'canceled' | 'continued_as_new';

/** What the `status` query and `GET /v1/refunds/{orderId}` return. */
export interface SagaStatusView {
  orderId: string;
  /** The saga's status; `GET` reports a run that ended mid-saga by how it ended ({@link RunEnd}), never stale. */
  status: SagaStatus | RunEnd;
  steps: Record<StepName, StepStatus>;
  overrides: AppliedOverride[];
  /** Refused signals and discarded decisions, newest last (the last 20); sagas started before they were kept lack it. */
  refusedOverrides?: RefusedOverride[];
  startedAt: string;
  updatedAt: string;
  completedAt?: string;
  result?: RefundResult;
}

/** How a step ended, in the result. */
export type StepOutcome =
  | 'reversed'
  | 'already_reversed'
  | 'skipped'
  | 'confirmed_by_operator'
  | 'not_applicable'
  | 'not_started'
  | 'left_for_manual_handling';

/** A money amount in a currency's smallest unit (Stripe, SQUAKE) or as a decimal string (Circle). */
export interface Amount {
  value: string;
  currency: string;
}

/** The reversal summary: what was undone where, what was lost to fees, and how recon confirmed it. */
export interface RefundResult {
  orderId: string;
  outcome: 'completed' | 'aborted';
  payment: {
    outcome: StepOutcome;
    paymentId: string;
    cancelId?: string;
    settlement?: 'confirmed' | 'paid';
    /** What Circle cancels: the whole payment, as Circle reports it; absent when no cancel exists. */
    amount?: Amount;
    /** The amount the refund request named. */
    requestedAmount?: Amount;
  };
  carbon: {
    outcome: StepOutcome;
    provider?: 'stripe_climate' | 'squake';
    resourceId?: string;
    refunded?: Amount;
    feesNotRefunded?: Amount;
    tonnes?: string;
    /** What the provider's state means, e.g. "voided by SQUAKE before settlement: nothing is charged". */
    detail?: string;
  };
  impact: {
    outcome: StepOutcome;
    userId?: string;
    timeUtc?: string;
    cancelledOn?: string;
    reversed?: { trees?: number; wasteLbs?: number; carbonLbs?: number; moneyCents?: number };
  };
  recon: { outcome: StepOutcome; recordId?: string; fundsDateTime?: string; evidence?: string };
  /** Steps an operator must finish by hand (after an abort past the pivot). */
  leftForManualHandling: StepName[];
  overrides: AppliedOverride[];
  startedAt: string;
  completedAt: string;
}

/** Tunables of one saga, set by whoever starts it. Durations in milliseconds. */
export interface RefundSagaOptions {
  /** How long to wait for Circle's cancel to settle. @default 3 days */
  settlementDeadlineMs?: number;
  /** How long to wait for the reversal in the recon feed. @default 7 days */
  reconDeadlineMs?: number;
  /** How long a provider may keep failing transiently before the step needs attention. @default 1 hour */
  outageEscalationMs?: number;
  /** First and longest interval between polls of Circle and the recon feed. @default 1 minute, 6 hours */
  pollInitialMs?: number;
  pollMaxMs?: number;
}

/** The workflow's argument. */
export interface RefundSagaInput {
  request: RefundRequest;
  options?: RefundSagaOptions;
}
