/** 1ClickImpact bodies (docs/providers.md, "1ClickImpact: cancel an impact"). */
import { z } from 'zod';
import { Timestamp } from '../timestamp';

/** The request of `POST /v1/cancel_impact`; the impact's natural key is `user_id` + `time_utc`. */
export const CancelImpactRequestSchema = z.strictObject({
  user_id: z.string().regex(/^U\d+$/, { error: 'must be "U" followed by digits' }),
  time_utc: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, { error: 'must be YYYY-MM-DDTHH:mm:ss.sssZ' }),
  reason: z.string().max(200, { error: 'must be at most 200 characters' }).optional(),
});
export type CancelImpactRequest = z.infer<typeof CancelImpactRequestSchema>;

/** The four impact kinds; exactly one is set on an impact. */
const ImpactAmounts = {
  tree_planted: z.number().int().optional(),
  waste_removed: z.number().int().optional(),
  carbon_captured: z.number().int().optional(),
  money_donated: z.number().int().optional(),
};

/** The answer of `POST /v1/cancel_impact`. */
export const CancelImpactResponseSchema = z.object({
  user_id: z.string(),
  time_utc: z.string(),
  cancelled_on: Timestamp,
  reason: z.string().optional(),
  ...ImpactAmounts,
  category: z.string().optional(),
  message: z.enum(['impact cancelled successfully', 'impact was already cancelled']),
});
export type CancelImpactResponse = z.infer<typeof CancelImpactResponseSchema>;

/** One impact record as `/v1/track` and `/v1/records` show it. */
export const ImpactRecordSchema = z.object({
  user_id: z.string(),
  time_utc: z.string(),
  ...ImpactAmounts,
  category: z.string().optional(),
  cancelled_on: Timestamp.optional(),
  cancellation_reason: z.string().optional(),
});
export type ImpactRecord = z.infer<typeof ImpactRecordSchema>;

/** `GET /v1/impact`: totals over impacts that are not cancelled. */
export const ImpactTotalsSchema = z.object({
  tree_planted: z.number(),
  waste_removed: z.number(),
  carbon_captured: z.number(),
  money_donated: z.number(),
});
export type ImpactTotals = z.infer<typeof ImpactTotalsSchema>;

export const ImpactRecordsSchema = z.object({ user_records: z.array(ImpactRecordSchema) });

/** 1ClickImpact's error body. */
export const OneClickImpactErrorSchema = z.object({ message: z.string() }).loose();
