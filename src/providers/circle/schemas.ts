/** Circle payment and cancel bodies (docs/providers.md, "Circle: cancel a payment"), as far as the saga reads them. */
import { z } from 'zod';
import { Timestamp } from '../timestamp';

const Money = z.object({ amount: z.string(), currency: z.string() });

/** Payment statuses Circle documents. */
export const PaymentStatus = z.enum(['pending', 'confirmed', 'paid', 'failed', 'action_required']);
/** Cancel statuses: `pending` when accepted, then `confirmed` (voided), `paid` (refunded) or `failed`. */
export const CancelStatus = z.enum(['pending', 'confirmed', 'paid', 'failed']);

/** The cancel object inside a payment. */
export const PaymentCancelSchema = z.object({
  id: z.string(),
  type: z.literal('cancel'),
  description: z.string().optional(),
  status: CancelStatus,
  createDate: Timestamp,
});

/** A refund inside a payment (a cancel of a paid payment settles as one). */
export const PaymentRefundSchema = z.object({
  id: z.string(),
  type: z.string(),
  amount: Money,
  status: z.string(),
  createDate: Timestamp.optional(),
});

/** A payment as `GET /v1/payments/{id}` returns it, inside `data`. */
export const PaymentSchema = z.object({
  id: z.string(),
  type: z.literal('payment'),
  merchantId: z.string().optional(),
  amount: Money,
  status: PaymentStatus,
  cancel: PaymentCancelSchema.optional(),
  refunds: z.array(PaymentRefundSchema).optional(),
  createDate: Timestamp.optional(),
  updateDate: z.string().optional(),
});
export type Payment = z.infer<typeof PaymentSchema>;

/** The cancel `POST /v1/payments/{id}/cancel` returns, inside `data`. */
export const CancelSchema = z.object({
  id: z.string(),
  type: z.literal('cancel'),
  amount: Money,
  status: CancelStatus,
  originalPayment: z.object({ id: z.string(), status: PaymentStatus }).loose(),
  createDate: Timestamp.optional(),
});
export type PaymentCancel = z.infer<typeof CancelSchema>;

export const GetPaymentResponseSchema = z.object({ data: PaymentSchema });
export const CancelPaymentResponseSchema = z.object({ data: CancelSchema });

/** Circle's error body. */
export const CircleErrorSchema = z.object({ code: z.number(), message: z.string() }).loose();

/** Reasons Circle accepts on a cancel. */
export const CancelReason = z.enum([
  'duplicate',
  'fraudulent',
  'requested_by_customer',
  'bank_transaction_error',
  'invalid_account_number',
  'insufficient_funds',
  'payment_stopped_by_issuer',
  'payment_returned',
  'bank_account_ineligible',
  'invalid_ach_rtn',
  'unauthorized_transaction',
  'payment_failed',
]);
export type CancelReason = z.infer<typeof CancelReason>;

/** Circle's idempotency keys are UUID v4. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
