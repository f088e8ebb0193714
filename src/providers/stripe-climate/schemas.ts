/** Stripe Climate order bodies as far as the saga reads them (docs/providers.md, "Stripe Climate: cancel an order"). */
import { z } from 'zod';

export const ClimateOrderStatus = z.enum(['open', 'confirmed', 'awaiting_funds', 'delivered', 'canceled']);

/** A Climate order: amounts in the currency's smallest unit, `created`/`canceled_at` in unix seconds. */
export const ClimateOrderSchema = z.object({
  id: z.string().startsWith('climorder_'),
  object: z.literal('climate.order'),
  amount_fees: z.number().int(),
  amount_subtotal: z.number().int(),
  amount_total: z.number().int(),
  currency: z.string(),
  status: ClimateOrderStatus,
  created: z.number().int(),
  canceled_at: z.number().int().nullable(),
  cancellation_reason: z.enum(['expired', 'product_unavailable', 'requested']).nullable(),
  // stripe-node 23 turns decimal strings into Decimal objects; keep them as the exact decimal string.
  metric_tons: z.preprocess(
    (v) => (typeof v === 'object' && v !== null ? (v as { toString(): string }).toString() : v),
    z.string(),
  ),
  product: z.string(),
});
export type ClimateOrder = z.infer<typeof ClimateOrderSchema>;

/** Stripe's error body. */
export const StripeErrorSchema = z.object({
  error: z.object({ type: z.string(), message: z.string(), code: z.string().optional(), param: z.string().optional() }),
});

/** How long after `created` a Climate order can be cancelled. */
export const CANCEL_WINDOW_SECONDS = 24 * 60 * 60;
