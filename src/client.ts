/**
 * The order service's client: start a refund saga idempotently, read its status, list refunds, send overrides. Works
 * with any `@temporalio/client` `Client`.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import {
  parseRefundRequest,
  refundWorkflowId,
  RefundStatusKey,
  CarbonProviderKey,
  CirclePaymentIdKey,
  NeedsAttentionKey,
  OrderIdKey,
  RefundStepKey,
  statusQuery,
  type RefundSagaOptions,
  type SagaStatus,
  type SagaStatusView,
} from './domain';
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
 * Validates the request and starts the order's saga. A second start for the same order returns the existing saga,
 * running (conflict policy `USE_EXISTING`) or finished (reuse policy `REJECT_DUPLICATE`); it never starts another.
 * Throws `InvalidRequestError` naming every bad field, before anything is started.
 */
export async function startRefund(
  client: Client,
  input: unknown,
  options: StartRefundOptions = {},
): Promise<StartedRefund> {
  const request = parseRefundRequest(input);
  const workflowId = refundWorkflowId(request.orderId);
  // Tells a fresh start from an attach to the running saga: only our start carries our token.
  const startToken = randomUUID();
  let handle: WorkflowHandle<typeof refundSaga>;
  try {
    handle = await client.workflow.start<typeof refundSaga>('refundSaga', {
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      workflowId,
      args: [{ request, options: options.sagaOptions }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { startToken },
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
    const existing = await client.workflow.getHandle(workflowId).describe();
    return {
      workflowId,
      runId: existing.runId,
      status: statusOf(existing.typedSearchAttributes.get(RefundStatusKey)),
      alreadyExisted: true,
    };
  }
  const description = await handle.describe();
  const alreadyExisted = description.memo?.startToken !== startToken;
  return {
    workflowId,
    runId: description.runId,
    status: statusOf(description.typedSearchAttributes.get(RefundStatusKey)),
    alreadyExisted,
  };
}

function statusOf(value: string | undefined): SagaStatus {
  return (value as SagaStatus | undefined) ?? 'running';
}

function staticDetails(request: ReturnType<typeof parseRefundRequest>): string {
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
