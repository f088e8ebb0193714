/** SQUAKE purchase bodies (docs/providers.md, "SQUAKE: cancel a purchase"). */
import { z } from 'zod';

export const PurchaseState = z.enum([
  'reserved',
  'confirmed',
  'invoiced',
  'settled',
  'certificates_confirmed',
  'certificates_retired',
  'payment_initiated',
  'canceled',
  'voided',
  'refunded',
  'payment_aborted',
]);
export type PurchaseState = z.infer<typeof PurchaseState>;

/** A purchase as `GET /v2/purchases/{id}` and the cancel return it. */
export const PurchaseSchema = z.object({
  id: z.string().regex(/^purchase_[a-zA-Z0-9]*$/),
  files: z.array(z.union([z.string(), z.object({}).loose()])).optional(),
  payment_method: z.enum(['batch_settlement', 'stripe']),
  state: PurchaseState,
  metadata: z.record(z.string(), z.unknown()).optional(),
  carbon_quantity: z.number(),
  carbon_unit: z.enum(['tonne', 'kilogram', 'gram']),
  total: z.number().int(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  external_reference: z.string().nullish(),
});
export type Purchase = z.infer<typeof PurchaseSchema>;

/** SQUAKE's error body: an array of errors. */
export const SquakeErrorSchema = z.array(
  z.object({
    code: z.string(),
    detail: z.string().optional(),
    source: z
      .object({ id: z.string().optional(), attribute: z.string().optional(), model: z.string().optional() })
      .loose()
      .optional(),
  }),
);
