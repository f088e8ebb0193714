/** Named activity option sets. Every set bounds one attempt and the whole retry span; Temporal owns the backoff. */
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';

/**
 * How soon an attempt whose worker died is retried: activities heartbeat every second while a call runs longer than
 * one (`src/activities/heartbeat.ts`), so a silent attempt is a lost one.
 */
const heartbeatTimeout = '6s';

/** A provider call that changes something (a cancel): short attempts, retried with backoff. */
export const providerCall = {
  startToCloseTimeout: '30s',
  heartbeatTimeout,
  // Replaced by the saga's outage bound; past it the step needs an operator instead of retrying silently.
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m' },
} as const satisfies ActivityOptions;

/** A read that checks progress (settlement, recon pages): may page through a window. */
export const statusCheck = {
  startToCloseTimeout: '2m',
  heartbeatTimeout,
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
} as const satisfies ActivityOptions;

/**
 * {@link statusCheck} for sagas whose operators' decisions cut a read short: the saga then waits until the server has
 * recorded the cancellation (or the read's answer), so it never finishes in the workflow task that cancels the read,
 * or while the read's answer is on its way (the server would refuse that task as `UnhandledCommand` and drop the
 * decision that came with it).
 */
export const interruptibleRead = {
  ...statusCheck,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
} as const satisfies ActivityOptions;

/**
 * A read of the Circle payment after a failed cancel, to learn whether the cancel took effect before anyone decides.
 * Short: while it cannot answer, the payment's state is unknown and the step waits for an operator's retry.
 */
export const pivotRead = {
  startToCloseTimeout: '30s',
  heartbeatTimeout,
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s' },
} as const satisfies ActivityOptions;

/** An option set with the saga's outage bound and a UI summary for one call. */
export function withBound(options: ActivityOptions, outageMs: number, summary: string): ActivityOptions {
  return { ...options, scheduleToCloseTimeout: outageMs, summary };
}
