/**
 * The order service's client: start a refund saga idempotently, read its status, list refunds, send overrides. Works
 * with any `@temporalio/client` `Client`.
 */
import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { z } from 'zod';
import {
  InvalidRequestError,
  OVERRIDE_ACTIONS,
  OVERRIDE_INPUTS,
  RefundRequestSchema,
  resolveSagaOptions,
  toFieldIssues,
  refundWorkflowId,
  RefundStatusKey,
  CarbonProviderKey,
  CirclePaymentIdKey,
  NeedsAttentionKey,
  OrderIdKey,
  RefundStepKey,
  statusQuery,
  type FieldIssue,
  type OverrideAction,
  type RefundRequest,
  type RefundSagaOptions,
  type SagaStatus,
  type SagaStatusView,
} from './domain';
import { differingFields, readRequestDigest, requestDigest } from './request-digest';
import type { refundSaga } from './workflows';

/** The task queue the saga's workers poll. */
export const TASK_QUEUE = 'refunds';

/** What {@link startRefund} returns. */
export interface StartedRefund {
  workflowId: string;
  runId: string;
  status: SagaStatus;
  /** True when a saga for this order already existed (running or finished) and no new one was started. */
  alreadyExisted: boolean;
}

/** Options of {@link startRefund}. */
export interface StartRefundOptions {
  /** @default 'refunds' */
  taskQueue?: string;
  /** Deadlines and polling of this saga. */
  sagaOptions?: RefundSagaOptions;
}

/**
 * Why a second start for an order was refused: its request differs from the one that started the order's saga, and
 * nothing was changed. `fields` names the differing leaf paths, sorted.
 */
export class RequestConflictError extends Error {
  override name = 'RequestConflictError';
  constructor(
    readonly workflowId: string,
    readonly fields: string[],
  ) {
    super(
      `${workflowId} was started with a different request (differs in ${fields.join(', ')}); nothing was changed, ` +
        'and the order id stays bound to that request: a corrected refund needs its own order id',
    );
  }
}

/**
 * Validates the request and the saga options, and starts the order's saga. A second start for the same order with the
 * same request returns the existing saga, running (conflict policy `USE_EXISTING`) or finished (reuse policy
 * `REJECT_DUPLICATE`); it never starts another. Throws `InvalidRequestError` naming every bad field (options as
 * `options.<field>`) before anything is started, and {@link RequestConflictError} when the order's saga was started
 * with a different request.
 */
export async function startRefund(
  client: Client,
  input: unknown,
  options: StartRefundOptions = {},
): Promise<StartedRefund> {
  const request = validateStart(input, options.sagaOptions);
  const workflowId = refundWorkflowId(request.orderId);
  // Tells a fresh start from an attach to the running saga: only our start carries our token.
  const startToken = randomUUID();
  const digest = requestDigest(request);
  let handle: WorkflowHandle<typeof refundSaga>;
  try {
    handle = await client.workflow.start<typeof refundSaga>('refundSaga', {
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      workflowId,
      // The options as given, not filled with defaults: the workflow resolves them itself, and the history shows what
      // the caller chose.
      args: [{ request, options: options.sagaOptions }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { startToken, requestDigest: digest },
      staticSummary: `Refund order ${request.orderId}, ${request.amount.value} ${request.amount.currency}`,
      staticDetails: staticDetails(request),
      typedSearchAttributes: [
        { key: OrderIdKey, value: request.orderId },
        { key: RefundStatusKey, value: 'running' },
        { key: RefundStepKey, value: 'payment' },
        { key: CarbonProviderKey, value: request.carbon?.provider ?? 'none' },
        { key: NeedsAttentionKey, value: false },
        { key: CirclePaymentIdKey, value: request.payment.paymentId },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // The saga has finished (REJECT_DUPLICATE): the same request gets it back, a different one is refused.
    const existing = await client.workflow.getHandle(workflowId).describe();
    refuseDifferentRequest(workflowId, existing.memo, digest);
    return {
      workflowId,
      runId: existing.runId,
      status: statusOf(existing.typedSearchAttributes.get(RefundStatusKey)),
      alreadyExisted: true,
    };
  }
  const description = await handle.describe();
  const alreadyExisted = description.memo?.startToken !== startToken;
  // Attached to the running saga (USE_EXISTING), which kept its own memo: compare the request that started it.
  if (alreadyExisted) refuseDifferentRequest(workflowId, description.memo, digest);
  return {
    workflowId,
    runId: description.runId,
    status: statusOf(description.typedSearchAttributes.get(RefundStatusKey)),
    alreadyExisted,
  };
}

/** Parses the request and checks the saga options, naming every bad field of both in one `InvalidRequestError`. */
function validateStart(input: unknown, sagaOptions: unknown): RefundRequest {
  const request = RefundRequestSchema.safeParse(input);
  const resolved = resolveSagaOptions(sagaOptions);
  const issues: FieldIssue[] = [
    ...(request.success ? [] : toFieldIssues(request.error)),
    ...(resolved.ok
      ? []
      : toFieldIssues(resolved.error).map((i) => ({
          ...i,
          path: i.path === '(root)' ? 'options' : `options.${i.path}`,
        }))),
  ];
  if (issues.length || !request.success) throw new InvalidRequestError(issues);
  return request.data;
}

/** Throws {@link RequestConflictError} when the existing saga's memo shows it was started with a different request. */
function refuseDifferentRequest(
  workflowId: string,
  memo: Record<string, unknown> | undefined,
  digest: ReturnType<typeof requestDigest>,
): void {
  const stored = readRequestDigest(memo?.requestDigest);
  // A saga without a digest (started by an older client, or by `temporal workflow start`) cannot be compared: it is
  // treated as the same request, as every second start was before digests existed.
  if (!stored) return;
  const fields = differingFields(stored, digest);
  if (fields.length) throw new RequestConflictError(workflowId, fields);
}

function statusOf(value: string | undefined): SagaStatus {
  return (value as SagaStatus | undefined) ?? 'running';
}

function staticDetails(request: RefundRequest): string {
  const carbon = request.carbon
    ? request.carbon.provider === 'stripe_climate'
      ? `Stripe Climate order \`${request.carbon.orderId}\``
      : `SQUAKE purchase \`${request.carbon.purchaseId}\``
    : 'none';
  return [
    `**Order** \`${request.orderId}\` — ${request.amount.value} ${request.amount.currency}${request.reason ? ` — ${request.reason}` : ''}`,
    '',
    `- Circle payment \`${request.payment.paymentId}\` (the pivot)`,
    `- Carbon: ${carbon}`,
    `- Impact: ${request.impact ? `1ClickImpact ${request.impact.userId} at ${request.impact.timeUtc}` : 'none'}`,
    `- Recon: ${request.recon ? `allocation \`${request.recon.fundsAllocationId}\` (${request.recon.consumerReference})` : 'none'}`,
  ].join('\n');
}

/** The saga's full status, from its `status` query. */
export async function getRefundStatus(client: Client, orderId: string): Promise<SagaStatusView> {
  return client.workflow.getHandle(refundWorkflowId(orderId)).query(statusQuery);
}

/** One row of {@link listRefunds}. */
export interface RefundListEntry {
  orderId: string;
  workflowId: string;
  runId?: string;
  status?: string;
  step?: string;
  needsAttention: boolean;
  startedAt?: string;
}

/** Refunds from Temporal visibility, optionally by saga status, a page at a time. */
export async function listRefunds(
  client: Client,
  options: { status?: SagaStatus; pageSize?: number; pageToken?: string } = {},
): Promise<{ refunds: RefundListEntry[]; nextPageToken?: string }> {
  const filter = [
    `WorkflowType = 'refundSaga'`,
    ...(options.status ? [`RefundStatus = '${options.status}'`] : []),
  ].join(' AND ');
  const page = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: filter,
    pageSize: options.pageSize ?? 25,
    nextPageToken: options.pageToken ? Buffer.from(options.pageToken, 'base64url') : undefined,
  });
  return {
    refunds: (page.executions ?? []).map((e) => {
      const attributes = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
      const workflowId = e.execution?.workflowId ?? '';
      return {
        orderId: workflowId.replace(/^refund-/, ''),
        workflowId,
        runId: e.execution?.runId ?? undefined,
        status: attributes.get(RefundStatusKey),
        step: attributes.get(RefundStepKey),
        needsAttention: attributes.get(NeedsAttentionKey) ?? false,
        startedAt: e.startTime?.seconds ? new Date(Number(e.startTime.seconds) * 1000).toISOString() : undefined,
      };
    }),
    nextPageToken: page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined,
  };
}

/** Why an override was refused: the saga's validator said no, or the saga has ended. */
export class OverrideRejectedError extends Error {
  override name = 'OverrideRejectedError';
}

/**
 * Sends an operator override as an update and returns the new status. Throws `InvalidRequestError` for bad input,
 * {@link OverrideRejectedError} with the saga's reason when it refuses, `WorkflowNotFoundError` for an unknown order.
 */
export async function sendOverride(client: Client, orderId: string, input: unknown): Promise<SagaStatusView> {
  const head = OverrideHead.safeParse(input);
  if (!head.success) throw new InvalidRequestError(toFieldIssues(head.error));
  const { action, ...rest } = head.data;
  const parsed = OVERRIDE_INPUTS[action].safeParse(rest);
  if (!parsed.success) throw new InvalidRequestError(toFieldIssues(parsed.error));
  try {
    return await client.workflow
      .getHandle(refundWorkflowId(orderId))
      .executeUpdate<SagaStatusView, [unknown]>(action, { args: [parsed.data] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new OverrideRejectedError(err.cause?.message ?? err.message);
    // An update to a saga that already ended is refused by the server, not by the validator.
    if (!(err instanceof WorkflowNotFoundError) && /already completed/i.test((err as Error).message)) {
      throw new OverrideRejectedError(`the saga for order ${orderId} has already ended`);
    }
    throw err;
  }
}

/** Validates `{ action, ...input }` of an override; throws `InvalidRequestError` naming every bad field. */
export function parseOverride(input: unknown): { action: OverrideAction; args: unknown } {
  const head = OverrideHead.safeParse(input);
  if (!head.success) throw new InvalidRequestError(toFieldIssues(head.error));
  const { action, ...rest } = head.data;
  const parsed = OVERRIDE_INPUTS[action].safeParse(rest);
  if (!parsed.success) throw new InvalidRequestError(toFieldIssues(parsed.error));
  return { action, args: parsed.data };
}

const OverrideHead = z.looseObject({
  action: z.enum(OVERRIDE_ACTIONS, { error: `must be one of ${OVERRIDE_ACTIONS.join(', ')}` }),
});
