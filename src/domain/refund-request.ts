/**
 * The RefundRequest contract (docs/design.md, "RefundRequest", under "Public contracts"): the same schema validates at
 * every edge and again in the workflow. Each rule's message is written for the person who sent the request; the
 * issue's path names the field.
 */
import { z } from 'zod';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_MILLIS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** "is required" for a missing part, the default message for anything else. */
const required = (what: string) => (issue: { code: string; input?: unknown }) =>
  issue.code === 'invalid_type' && issue.input === undefined ? `is required: ${what}` : undefined;

const uuid = (what: string) => z.string().regex(UUID, { error: `must be a UUID (${what})` });

/** Order ids: 1–64 characters of `[A-Za-z0-9_-]`; they become part of the workflow id `refund-<orderId>`. */
export const OrderIdSchema = z
  .string({ error: 'is required and must be a string' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"' });

/** A money amount as a decimal string, e.g. `{ value: "12.60", currency: "USD" }`. */
export const MoneySchema = z.strictObject(
  {
    value: z
      .string({ error: 'is required and must be a decimal string such as "12.60"' })
      .regex(/^\d{1,12}(\.\d{1,3})?$/, { error: 'must be a decimal string such as "12.60"', abort: true })
      .refine((v) => Number(v) > 0, { error: 'must be greater than zero' }),
    currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be a 3-letter ISO 4217 code such as "USD"' }),
  },
  { error: required('{ "value", "currency" }') },
);

/** The Circle payment to cancel: the saga's pivot. */
export const CirclePaymentSchema = z.strictObject(
  {
    provider: z.literal('circle', { error: 'must be "circle"' }),
    paymentId: uuid('Circle payment id'),
  },
  { error: required('{ "provider": "circle", "paymentId" }') },
);

/** A Stripe Climate order (`climorder_…`), cancellable within 24 h of creation. */
export const StripeClimateCarbonSchema = z.strictObject({
  provider: z.literal('stripe_climate'),
  orderId: z.string().regex(/^climorder_[A-Za-z0-9]+$/, { error: 'must look like "climorder_…"' }),
});

/** A SQUAKE purchase (`purchase_…`), cancellable only while `reserved`. */
export const SquakeCarbonSchema = z.strictObject({
  provider: z.literal('squake'),
  purchaseId: z.string().regex(/^purchase_[A-Za-z0-9]+$/, { error: 'must look like "purchase_…"' }),
});

/** The carbon order, at Stripe Climate or SQUAKE. */
export const CarbonSchema = z.discriminatedUnion('provider', [StripeClimateCarbonSchema, SquakeCarbonSchema], {
  error: 'provider must be "stripe_climate" or "squake"',
});

/** The 1ClickImpact impact, identified by its natural key: user id and original time. */
export const ImpactSchema = z.strictObject({
  provider: z.literal('1clickimpact', { error: 'must be "1clickimpact"' }),
  userId: z.string().regex(/^U\d+$/, { error: 'must be "U" followed by digits, e.g. "U1234"' }),
  timeUtc: z
    .string()
    .regex(ISO_MILLIS_Z, {
      error: 'must be ISO 8601 UTC with milliseconds, e.g. "2025-03-12T15:22:14.753Z"',
      abort: true,
    })
    .refine((v) => !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v, { error: 'is not a real date' }),
});

/** The original funds allocation whose reversal the recon feed must show. */
export const ReconSchema = z.strictObject({
  fundsAllocationId: uuid('funds allocation id'),
  consumerReference: z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(200, { error: 'must be at most 200 characters' }),
});

/** A refund as the order service sends it. Parts other than `payment` are absent or null when unused. */
export const RefundRequestSchema = z
  .strictObject({
    orderId: OrderIdSchema,
    reason: z.string().max(200, { error: 'must be at most 200 characters' }).optional(),
    amount: MoneySchema,
    payment: CirclePaymentSchema,
    carbon: CarbonSchema.nullish(),
    impact: ImpactSchema.nullish(),
    recon: ReconSchema.nullish(),
  })
  .superRefine((request, ctx) => {
    // The feed shows a reversal only once the linked impact is cancelled: recon without an impact could never confirm.
    if (request.recon && !request.impact) {
      ctx.addIssue({
        code: 'custom',
        path: ['recon'],
        message: 'needs an "impact" part: the reversal follows the impact cancel',
      });
    }
  });

export type RefundRequest = z.infer<typeof RefundRequestSchema>;
export type CarbonOrder = z.infer<typeof CarbonSchema>;
export type Money = z.infer<typeof MoneySchema>;

/** One problem with an input, as reported to callers: the dotted field path and what is wrong with it. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Flattens zod issues into `{ path, message }`, with the path as `carbon.orderId` or `(root)`. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}

/** Raised for a request that breaks the contract; `issues` names every offending field. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid refund request: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
  }
}

/** Parses a refund request or throws {@link InvalidRequestError} naming every bad field. */
export function parseRefundRequest(input: unknown): RefundRequest {
  const parsed = RefundRequestSchema.safeParse(input);
  if (!parsed.success) throw new InvalidRequestError(toFieldIssues(parsed.error));
  return parsed.data;
}

/** The workflow id of an order's saga. */
export function refundWorkflowId(orderId: string): string {
  return `refund-${orderId}`;
}
