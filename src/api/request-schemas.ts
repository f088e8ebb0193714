/**
 * The routes' request schemas: the domain's and the client's own, composed per route and described for the OpenAPI
 * document. Those with an `id` are its named components.
 */
import { z } from 'zod';
import { ListRefundsOptionsSchema, OVERRIDE_BATCH_LIMIT, OverrideBatchSchema, OverrideIdSchema } from '../client';
import {
  CirclePaymentSchema,
  OVERRIDE_ACTIONS,
  OVERRIDE_INPUTS,
  OrderIdSchema,
  RefundRequestSchema,
  type OverrideAction,
} from '../domain';

/**
 * What no text of a request may hold, wherever it goes on to (logs, the Temporal UI, an operator's terminal): control
 * characters other than tab and line breaks, and the bidirectional embeddings, overrides and isolates that make text
 * display other than it reads.
 */
const UNSAFE_TEXT = /(?![\t\n\r])[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/** The API's own rule on every string of a body that passed its schema: an issue at each one with unsafe text. */
function refuseUnsafeText(value: unknown, ctx: z.core.$RefinementCtx, path: PropertyKey[] = []): void {
  if (typeof value === 'string') {
    if (UNSAFE_TEXT.test(value)) {
      ctx.addIssue({ code: 'custom', path, message: 'must not hold control characters or bidirectional overrides' });
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) refuseUnsafeText(child, ctx, [...path, key]);
  }
}

/** The body of `POST /v1/refunds`: the domain's refund request. */
export const RefundRequestBody = RefundRequestSchema.superRefine(refuseUnsafeText).meta({ id: 'RefundRequest' });

/** The `{orderId}` of a route's path. */
export const OrderIdParams = z.object({ orderId: OrderIdSchema });

/**
 * The optional `Idempotency-Key` of an override. Lowercase, as Fastify holds request headers; an issue names it
 * `Idempotency-Key`.
 */
export const IdempotencyKeyHeaders = z.looseObject({
  'idempotency-key': OverrideIdSchema.optional().meta({
    description:
      'Makes the override idempotent: it is sent as the Temporal update id, so a repeat with the same key is applied ' +
      'once and answered with the first outcome (even when its body differs). Without it, every request is applied.',
  }),
});

/** An action's input with `action`; `operator` is the caller's identity, so a body may leave it out. */
const withAction = <A extends OverrideAction>(action: A) =>
  OVERRIDE_INPUTS[action].extend({
    action: z.literal(action),
    operator: OVERRIDE_INPUTS[action].shape.operator.optional().meta({
      description: "The caller's own identity, or left out: overrides are recorded as their sender's",
    }),
  });

/** An override: `action` and that action's input, as `parseOverride` in the client reads it. */
export const OverrideBody = z
  .discriminatedUnion(
    'action',
    [
      withAction('retryStep'),
      withAction('skipStep'),
      withAction('confirmRecon'),
      withAction('extendDeadline'),
      withAction('abort'),
    ],
    {
      error: (issue) => (issue.code === 'invalid_union' ? `must be one of ${OVERRIDE_ACTIONS.join(', ')}` : undefined),
    },
  )
  .superRefine(refuseUnsafeText)
  .meta({ id: 'Override' });

/** The body of `POST /v1/refunds/overrides:batch`: the client's batch schema, with the override checked in full. */
export const OverrideBatchBody = OverrideBatchSchema.safeExtend({
  where: OverrideBatchSchema.shape.where.superRefine(refuseUnsafeText),
  override: OverrideBody,
}).meta({
  id: 'OverrideBatch',
  description:
    "Exactly one of `where`, a visibility query ANDed with `WorkflowType = 'refundSaga' AND ExecutionStatus = " +
    `'Running'\` (at most ${OVERRIDE_BATCH_LIMIT} sagas are taken; \`capped\` says when more matched), and ` +
    '`orderIds`. A dry run unless `dryRun: false`.',
});

/** The list's query string: the client's list options, with the page size read from text. */
export const ListQuery = ListRefundsOptionsSchema.extend({
  status: ListRefundsOptionsSchema.shape.status.meta({ description: '`needs_attention` lists running sagas only' }),
  errorType: ListRefundsOptionsSchema.shape.errorType.meta({
    description: "The blocked step's error type (`RefundErrorType`)",
  }),
  pageSize: z.coerce.number().int().min(1, { error: 'must be 1-100' }).max(100, { error: 'must be 1-100' }).default(25),
  pageToken: ListRefundsOptionsSchema.shape.pageToken.meta({
    description: 'The `nextPageToken` of the previous page, with the same filters',
  }),
});

/** The payment a Circle notification is about: a payment's own, or the original payment of a cancel. */
export const CircleNotificationBody = z
  .looseObject({
    notificationType: z.string().optional(),
    payment: z.looseObject({ id: CirclePaymentSchema.shape.paymentId }).optional(),
    cancel: z.looseObject({ originalPayment: z.looseObject({ id: CirclePaymentSchema.shape.paymentId }) }).optional(),
  })
  .transform((notification, ctx) => {
    const paymentId = notification.payment?.id ?? notification.cancel?.originalPayment.id;
    if (paymentId) return { paymentId };
    ctx.addIssue({ code: 'custom', message: 'needs payment.id or cancel.originalPayment.id' });
    return z.NEVER;
  });
