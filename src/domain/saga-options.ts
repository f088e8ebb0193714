/**
 * `RefundSagaOptions` with bounds, validated by the client before a start and again by the workflow: a zero poll
 * interval would poll in a hot loop, a zero outage bound would never escalate, and too many polls per wait would
 * outgrow the workflow's history.
 */
import { z } from 'zod';
import type { RefundSagaOptions } from './saga-state';

const SECOND = 1000;
const DAY = 86_400_000;

/** Defaults of every saga option. */
export const SAGA_OPTION_DEFAULTS: Required<RefundSagaOptions> = {
  settlementDeadlineMs: 3 * DAY,
  reconDeadlineMs: 7 * DAY,
  outageEscalationMs: 3_600_000,
  pollInitialMs: 60_000,
  pollMaxMs: 6 * 3_600_000,
};

/** The most polls one wait may take before its deadline: each costs ~10 history events. */
export const MAX_POLLS_PER_WAIT = 1000;

const ms = (min: number, max: number, what: string) =>
  z
    .number({ error: `must be a number of milliseconds (${what})` })
    .int({ error: 'must be a whole number of milliseconds' })
    .min(min, { error: `must be at least ${min} ms` })
    .max(max, { error: `must be at most ${max} ms` });

/** The options' schema; unknown fields are rejected. */
export const RefundSagaOptionsSchema = z
  .strictObject({
    settlementDeadlineMs: ms(SECOND, 90 * DAY, 'how long to wait for Circle to settle').optional(),
    reconDeadlineMs: ms(SECOND, 90 * DAY, 'how long to wait for the recon reversal').optional(),
    outageEscalationMs: ms(SECOND, 30 * DAY, 'how long a provider may fail before a step needs attention').optional(),
    pollInitialMs: ms(100, DAY, 'first interval between polls').optional(),
    pollMaxMs: ms(100, 7 * DAY, 'longest interval between polls').optional(),
  })
  .transform((given, ctx) => {
    const options = { ...SAGA_OPTION_DEFAULTS, ...given };
    if (options.pollMaxMs < options.pollInitialMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['pollMaxMs'],
        message: `must be at least pollInitialMs (${options.pollInitialMs} ms)`,
      });
    }
    for (const deadline of ['settlementDeadlineMs', 'reconDeadlineMs'] as const) {
      const polls = Math.ceil(options[deadline] / options.pollMaxMs);
      if (polls > MAX_POLLS_PER_WAIT) {
        ctx.addIssue({
          code: 'custom',
          path: ['pollMaxMs'],
          message: `would poll up to ${polls} times within ${deadline} (${options[deadline]} ms); at most ${MAX_POLLS_PER_WAIT} fit a workflow's history: raise pollMaxMs to at least ${Math.ceil(options[deadline] / MAX_POLLS_PER_WAIT)} ms or shorten ${deadline}`,
        });
      }
    }
    return options;
  });

/** Resolves options with their defaults, or returns the issues (`pollMaxMs must be …`). */
export function resolveSagaOptions(
  input: unknown,
): { ok: true; options: Required<RefundSagaOptions> } | { ok: false; error: z.ZodError } {
  const parsed = RefundSagaOptionsSchema.safeParse(input ?? {});
  return parsed.success ? { ok: true, options: parsed.data } : { ok: false, error: parsed.error };
}
