/**
 * Operator overrides: their inputs (validated with zod at every edge and again in the workflow's update validators)
 * and the signal, update and query definitions of the saga. Each override exists as an update (accepted or rejected
 * with a reason) and as a signal of the same name (fire-and-forget, and the Temporal UI's "Send signal").
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { STEPS, type SagaStatusView } from './saga-state';

const operator = z
  .string({ error: 'is required: who is acting' })
  .trim()
  .min(1, { error: 'is required: who is acting' })
  .max(100, { error: 'must be at most 100 characters' });
const reason = z
  .string({ error: 'is required: why' })
  .trim()
  .min(1, { error: 'is required: why' })
  .max(500, { error: 'must be at most 500 characters' });
const step = z.enum(STEPS, { error: `must be one of ${STEPS.join(', ')}` });
const evidence = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(2000, { error: 'must be at most 2000 characters' });

/** The longest extension one `extendDeadline` may give: the saga's horizon, as for its deadlines. */
export const MAX_EXTENSION_MS = 90 * 86_400_000;

/** A duration as milliseconds or as `30m`, `6h`, `2d`, up to {@link MAX_EXTENSION_MS}. */
export const DurationSchema = z.union([
  z
    .number()
    .int()
    .positive({ error: 'must be a positive number of milliseconds' })
    .max(MAX_EXTENSION_MS, { error: 'must be at most 90 days' }),
  z
    .string()
    .regex(/^\d{1,12}(ms|s|m|h|d)$/, { error: 'must look like "30m", "6h" or "2d"', abort: true })
    .refine((v) => durationMs(v) > 0, { error: 'must be longer than zero' })
    .refine((v) => durationMs(v) <= MAX_EXTENSION_MS, { error: 'must be at most 90 days' }),
]);

/** `retryStep`: run a blocked step again now. */
export const RetryStepInput = z.strictObject({ step, operator, reason });
/** `skipStep`: the step was resolved outside the saga. */
export const SkipStepInput = z.strictObject({ step, operator, reason, evidence: evidence.optional() });
/** `confirmRecon`: accept recon without a matching record. */
export const ConfirmReconInput = z.strictObject({ operator, reason, evidence });
/** `extendDeadline`: more time for a step that is waited on. */
export const ExtendDeadlineInput = z.strictObject({
  step: z.enum(['payment', 'recon'], { error: 'must be "payment" or "recon": only they wait' }),
  duration: DurationSchema,
  operator,
  reason,
});
/** `abort`: stop the saga. */
export const AbortInput = z.strictObject({ operator, reason });

export type RetryStepInput = z.infer<typeof RetryStepInput>;
export type SkipStepInput = z.infer<typeof SkipStepInput>;
export type ConfirmReconInput = z.infer<typeof ConfirmReconInput>;
export type ExtendDeadlineInput = z.infer<typeof ExtendDeadlineInput>;
export type AbortInput = z.infer<typeof AbortInput>;

/** Input schema of each override, by action name. */
export const OVERRIDE_INPUTS = {
  retryStep: RetryStepInput,
  skipStep: SkipStepInput,
  confirmRecon: ConfirmReconInput,
  extendDeadline: ExtendDeadlineInput,
  abort: AbortInput,
} as const;

export const retryStepUpdate = defineUpdate<SagaStatusView, [RetryStepInput]>('retryStep');
export const skipStepUpdate = defineUpdate<SagaStatusView, [SkipStepInput]>('skipStep');
export const confirmReconUpdate = defineUpdate<SagaStatusView, [ConfirmReconInput]>('confirmRecon');
export const extendDeadlineUpdate = defineUpdate<SagaStatusView, [ExtendDeadlineInput]>('extendDeadline');
export const abortUpdate = defineUpdate<SagaStatusView, [AbortInput]>('abort');

export const retryStepSignal = defineSignal<[RetryStepInput]>('retryStep');
export const skipStepSignal = defineSignal<[SkipStepInput]>('skipStep');
export const confirmReconSignal = defineSignal<[ConfirmReconInput]>('confirmRecon');
export const extendDeadlineSignal = defineSignal<[ExtendDeadlineInput]>('extendDeadline');
export const abortSignal = defineSignal<[AbortInput]>('abort');

/** Sent by the Circle webhook: the cancel may have settled, check now instead of at the next timer. */
export const circleCancelSettledSignal = defineSignal<[{ paymentId: string }]>('circleCancelSettled');

/** The saga's full state. */
export const statusQuery = defineQuery<SagaStatusView>('status');

/** Milliseconds of a {@link DurationSchema} value. */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
