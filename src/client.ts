/**
 * The order service's client: start a refund saga idempotently, read its status, list refunds, send overrides. Works
 * with any `@temporalio/client` `Client`.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  ERROR_TYPES,
  type ErrorType,
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
  OrderIdSchema,
  RefundErrorTypeKey,
  RefundStepKey,
  SAGA_STATUSES,
  STEPS,
  statusQuery,
  TASK_QUEUE,
  type FieldIssue,
  type OverrideAction,
  type RefundRequest,
  type RefundSagaOptions,
  type RunEnd,
  type SagaStatus,
  type SagaStatusView,
  type StepName,
} from './domain';
import { differingFields, readRequestDigest, requestDigest } from './request-digest';
import type { refundSaga } from './workflows';

const { WorkflowExecutionStatus } = temporal.api.enums.v1;

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
 * Validates the request and the saga options, and starts the order's saga: one server call. A second start for the
 * same order with the same request returns the existing saga, running or finished; it never starts another (conflict
 * policy `FAIL`, reuse policy `REJECT_DUPLICATE`: the server refuses, and the saga is read). Throws
 * `InvalidRequestError` naming every bad field (options as `options.<field>`) before anything is started, and
 * {@link RequestConflictError} when the order's saga was started with a different request.
 */
export async function startRefund(
  client: Client,
  input: unknown,
  options: StartRefundOptions = {},
): Promise<StartedRefund> {
  const request = validateStart(input, options.sagaOptions);
  const workflowId = refundWorkflowId(request.orderId);
  const digest = requestDigest(request);
  try {
    const handle = await client.workflow.start<typeof refundSaga>('refundSaga', {
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      workflowId,
      // The options as given, not filled with defaults: the workflow resolves them itself, and the history shows what
      // the caller chose.
      args: [{ request, options: options.sagaOptions }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { requestDigest: digest },
      staticSummary: `Refund order ${request.orderId}, ${request.amount.value} ${request.amount.currency}`,
      staticDetails: staticDetails(request),
      typedSearchAttributes: [
        { key: OrderIdKey, value: request.orderId },
        { key: RefundStatusKey, value: 'running' },
        { key: RefundStepKey, value: 'payment' },
        { key: CarbonProviderKey, value: request.carbon?.provider ?? 'none' },
        { key: NeedsAttentionKey, value: false },
        { key: RefundErrorTypeKey, value: 'none' },
        { key: CirclePaymentIdKey, value: request.payment.paymentId },
      ],
    });
    // Started by this call, with the attributes just given: nothing to read back.
    return { workflowId, runId: handle.firstExecutionRunId, status: 'running', alreadyExisted: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // The order has a saga, running or finished: the same request gets it back, a different one is refused.
  const existing = await client.workflow.getHandle(workflowId).describe();
  refuseDifferentRequest(workflowId, existing.memo, digest);
  return {
    workflowId,
    runId: existing.runId,
    status: statusOf(existing.typedSearchAttributes.get(RefundStatusKey)),
    alreadyExisted: true,
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
  const handle = client.workflow.getHandle(refundWorkflowId(orderId));
  const view = await handle.query(statusQuery);
  if (ENDED_SAGA_STATUSES.includes(view.status)) return view;
  // A run terminated or timed out mid-saga answers the query with its last state: report how the run really ended.
  const ended = await endOfRun(handle);
  return ended ? { ...view, status: ended as RunEnd } : view;
}

/** Values of the `RefundStep` filter of {@link listRefunds}. */
export const STEP_FILTERS = STEPS;
/** Values of the `CarbonProvider` filter of {@link listRefunds}. */
export const CARBON_PROVIDER_FILTERS = ['stripe_climate', 'squake', 'none'] as const;

/** One row of {@link listRefunds}. */
export interface RefundListEntry {
  orderId: string;
  workflowId: string;
  runId?: string;
  /** The saga status; for a run that ended without the saga saying so, the run's end (`terminated`, `failed`, …). */
  status?: string;
  step?: string;
  /** The run's status in Temporal visibility: `Running`, `Completed`, `Failed`, `Canceled`, `Terminated`, … */
  executionStatus: string;
  needsAttention: boolean;
  startedAt?: string;
  /** The blocked step's last error, for a running saga that needs attention (absent when its query failed). */
  error?: { type: string; message: string };
  /** The blocked step's deadline, when it has one. */
  deadline?: string;
}

/** Options of {@link listRefunds}; all are filters ANDed together, but the page ones. */
export interface ListRefundsOptions {
  status?: SagaStatus;
  step?: StepName;
  carbonProvider?: (typeof CARBON_PROVIDER_FILTERS)[number];
  /** The blocked step's error type (`RefundErrorType`), e.g. `ProviderOutage`. */
  errorType?: ErrorType;
  /** @default 25 */
  pageSize?: number;
  /** The `nextPageToken` of the previous page, with the same filters. */
  pageToken?: string;
}

/** Checks {@link ListRefundsOptions}, naming each bad field; the API and the CLI validate with it. */
export const ListRefundsOptionsSchema = z.strictObject({
  status: z.enum(SAGA_STATUSES, { error: `must be one of ${SAGA_STATUSES.join(', ')}` }).optional(),
  step: z.enum(STEP_FILTERS, { error: `must be one of ${STEP_FILTERS.join(', ')}` }).optional(),
  errorType: z.enum(ERROR_TYPES, { error: `must be one of ${ERROR_TYPES.join(', ')}` }).optional(),
  carbonProvider: z
    .enum(CARBON_PROVIDER_FILTERS, { error: `must be one of ${CARBON_PROVIDER_FILTERS.join(', ')}` })
    .optional(),
  pageSize: z.number().int().min(1, { error: 'must be 1-100' }).max(100, { error: 'must be 1-100' }).optional(),
  pageToken: z.string().optional(),
});

/** Rows whose saga is queried for its blocked step at once. */
const STATUS_QUERY_CONCURRENCY = 8;
/** Time all of a page's status queries get together: a saga whose worker is down must not stall the list. */
const STATUS_QUERY_BUDGET_MS = 5000;
const ENDED_SAGA_STATUSES: readonly string[] = ['completed', 'aborted'];

/**
 * Refunds from Temporal visibility, filtered by saga status, step and carbon provider, a page at a time. Rows of
 * running sagas that need attention carry the blocked step's error and deadline, read with the `status` query (a query
 * that fails leaves them out). Throws `InvalidRequestError` for a bad option or page token.
 */
export async function listRefunds(
  client: Client,
  options: ListRefundsOptions = {},
): Promise<{ refunds: RefundListEntry[]; nextPageToken?: string }> {
  const parsed = ListRefundsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new InvalidRequestError(toFieldIssues(parsed.error));
  const { status, step, carbonProvider, errorType, pageSize, pageToken } = parsed.data;
  const filter = [
    `WorkflowType = 'refundSaga'`,
    // The attribute of a terminated saga keeps its last value: only a running saga can need attention.
    ...(status ? [`RefundStatus = '${status}'`] : []),
    ...(status === 'needs_attention' ? [`ExecutionStatus = 'Running'`] : []),
    ...(step ? [`RefundStep = '${step}'`] : []),
    ...(carbonProvider ? [`CarbonProvider = '${carbonProvider}'`] : []),
    ...(errorType ? [`RefundErrorType = '${errorType}'`] : []),
  ].join(' AND ');
  const page = await visibilityPage(
    client,
    filter,
    pageSize ?? 25,
    pageToken && decodePageToken(pageToken),
    'pageToken',
  );
  const refunds = (page.executions ?? []).map(toListEntry);
  await addBlockedStep(
    client,
    refunds.filter((r) => r.status === 'needs_attention' && r.executionStatus === 'Running'),
  );
  return {
    refunds,
    nextPageToken: page.nextPageToken?.length ? encodePageToken(page.nextPageToken) : undefined,
  };
}

type VisibilityExecution = NonNullable<
  Awaited<ReturnType<Client['workflowService']['listWorkflowExecutions']>>['executions']
>[number];

/** One page of visibility; the server's InvalidArgument (a bad query or token) becomes an issue of `field`. */
async function visibilityPage(
  client: Client,
  query: string,
  pageSize: number,
  token: Uint8Array | '' | undefined,
  field: string,
) {
  try {
    return await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize,
      nextPageToken: token || undefined,
    });
  } catch (err) {
    if (isGrpcServiceError(err) && Number(err.code) === GRPC_INVALID_ARGUMENT) {
      throw new InvalidRequestError([
        { path: field, message: `was refused by Temporal: ${err.details ?? err.message}` },
      ]);
    }
    throw err;
  }
}

/** gRPC's status code for a request the server refuses as malformed (a bad query, a bad page token). */
const GRPC_INVALID_ARGUMENT = 3;

function toListEntry(e: VisibilityExecution): RefundListEntry {
  const attributes = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
  const workflowId = e.execution?.workflowId ?? '';
  const executionStatus = executionStatusName(e.status);
  const sagaStatus = attributes.get(RefundStatusKey);
  const running = executionStatus === 'Running';
  return {
    orderId: workflowId.replace(/^refund-/, ''),
    workflowId,
    runId: e.execution?.runId ?? undefined,
    // A run terminated (or failed) mid-saga keeps its last RefundStatus: say how the run really ended.
    status:
      running || (sagaStatus && ENDED_SAGA_STATUSES.includes(sagaStatus)) ? sagaStatus : snakeCase(executionStatus),
    step: attributes.get(RefundStepKey),
    executionStatus,
    needsAttention: running && (attributes.get(NeedsAttentionKey) ?? false),
    startedAt: e.startTime?.seconds ? new Date(Number(e.startTime.seconds) * 1000).toISOString() : undefined,
  };
}

/** `Running`, `TimedOut`, …: the names visibility queries use for `ExecutionStatus`. */
function executionStatusName(code: number | null | undefined): string {
  const key = WorkflowExecutionStatus[code ?? 0] ?? 'WORKFLOW_EXECUTION_STATUS_UNSPECIFIED';
  return key
    .replace(/^WORKFLOW_EXECUTION_STATUS_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, _sep: string, c: string) => c.toUpperCase());
}

const snakeCase = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();

/** Fills `error` and `deadline` from each saga's `status` query, a few at a time, within one time budget. */
async function addBlockedStep(client: Client, rows: RefundListEntry[]): Promise<void> {
  const deadline = Date.now() + STATUS_QUERY_BUDGET_MS;
  await forEachBounded(rows, STATUS_QUERY_CONCURRENCY, async (row) => {
    try {
      const view = await client.connection.withDeadline(deadline, () =>
        client.workflow.getHandle(row.workflowId, row.runId).query(statusQuery),
      );
      const blocked = STEPS.find((s) => view.steps[s].state === 'blocked');
      const step = blocked && view.steps[blocked];
      if (step?.lastError) row.error = { type: step.lastError.type, message: step.lastError.message };
      if (step?.deadline) row.deadline = step.deadline;
    } catch {
      // A saga that cannot answer now (its worker is down, the budget is spent) is listed without the details.
    }
  });
}

/** Runs `task` for every item, at most `limit` at a time. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Bytes of the checksum that ends every page token this client hands out. */
const PAGE_TOKEN_CHECKSUM_BYTES = 8;

/**
 * The server's page token, base64url, with a checksum. Temporal answers a token it cannot parse with `Unknown`, which
 * the SDK retries for ~20 s before it gives up; the checksum lets a truncated or made-up token fail at once.
 */
function encodePageToken(raw: Uint8Array): string {
  return Buffer.concat([raw, pageTokenChecksum(raw)]).toString('base64url');
}

function decodePageToken(token: string): Uint8Array {
  const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
  const raw = bytes.subarray(0, bytes.length - PAGE_TOKEN_CHECKSUM_BYTES);
  if (bytes.length <= PAGE_TOKEN_CHECKSUM_BYTES || !pageTokenChecksum(raw).equals(bytes.subarray(raw.length))) {
    throw new InvalidRequestError([
      { path: 'pageToken', message: 'is not a nextPageToken of this list (malformed or truncated)' },
    ]);
  }
  return raw;
}

function pageTokenChecksum(raw: Uint8Array): Buffer {
  return createHash('sha256').update(raw).digest().subarray(0, PAGE_TOKEN_CHECKSUM_BYTES);
}

/** Why an override was refused: the saga's validator said no, or the saga has ended. */
export class OverrideRejectedError extends Error {
  override name = 'OverrideRejectedError';
}

/** An override to a saga whose run has ended: `endedAs` is `completed`, `aborted`, `terminated`, `failed`, … */
export class SagaEndedError extends OverrideRejectedError {
  override name = 'SagaEndedError';
  constructor(readonly endedAs: string) {
    super(`the saga has ended (${endedAs})`);
  }
}

/** A caller-chosen override id, sent as the Temporal update id: a repeat within the run gets the first outcome. */
export const OverrideIdSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.:-]{1,100}$/, { error: 'must be 1-100 characters of A-Z, a-z, 0-9, "_", ".", ":" or "-"' });

/** Options of {@link sendOverride}. */
export interface SendOverrideOptions {
  /** Makes the override idempotent: sent again with the same id, it is applied once and answered as the first time. */
  id?: string;
}

/**
 * Sends an operator override as an update and returns the new status. Throws `InvalidRequestError` for bad input,
 * {@link OverrideRejectedError} with the saga's reason when it refuses ({@link SagaEndedError} when it has ended), and
 * `WorkflowNotFoundError` for an order that never had a saga.
 */
export async function sendOverride(
  client: Client,
  orderId: string,
  input: unknown,
  options: SendOverrideOptions = {},
): Promise<SagaStatusView> {
  const { action, args } = parseOverride(input);
  const id = options.id === undefined ? undefined : OverrideIdSchema.safeParse(options.id);
  if (id && !id.success) throw new InvalidRequestError(toFieldIssues(id.error).map((i) => ({ ...i, path: 'id' })));
  const handle = client.workflow.getHandle(refundWorkflowId(orderId));
  // One id for every attempt: a repeat can then never apply the override twice.
  const updateId = id?.data ?? randomUUID();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.executeUpdate<SagaStatusView, [unknown]>(action, { args: [args], updateId });
      } catch (err) {
        if (attempt >= UPDATE_ATTEMPTS || !lostToWorkflowTaskFailure(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, attempt * 200));
      }
    }
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new OverrideRejectedError(err.cause?.message ?? err.message);
    // The server answers an update to a closed run as it answers a missing one ("workflow execution already
    // completed" vs "workflow not found"): only the run's description tells them apart.
    if (err instanceof WorkflowNotFoundError || /already completed/i.test((err as Error).message)) {
      const endedAs = await endOfRun(handle);
      if (endedAs) throw new SagaEndedError(endedAs);
    }
    throw err;
  }
}

/** Times an override is sent when the server drops it with the workflow task it was delivered in. */
const UPDATE_ATTEMPTS = 3;
/** gRPC's status code for "not now": the server's answer to an update it dropped before accepting it. */
const GRPC_FAILED_PRECONDITION = 9;

/**
 * True when the server dropped the update, unaccepted, because the workflow task that carried it failed, e.g. with
 * `UnhandledCommand` when the saga tried to finish as an activity's answer arrived. Nothing was applied, and the
 * retried task runs without it: sending it again, with the same update id, is safe.
 */
function lostToWorkflowTaskFailure(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : undefined;
  return (
    isGrpcServiceError(cause) &&
    Number(cause.code) === GRPC_FAILED_PRECONDITION &&
    /workflow task failure/i.test(cause.details ?? '')
  );
}

/** How the saga's run ended (`completed`, `aborted`, `terminated`, …), or undefined when it runs or never existed. */
async function endOfRun(handle: WorkflowHandle): Promise<string | undefined> {
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  if (description.status.name === 'RUNNING') return undefined;
  const sagaStatus = description.typedSearchAttributes.get(RefundStatusKey);
  if (description.status.name === 'COMPLETED' && sagaStatus && ENDED_SAGA_STATUSES.includes(sagaStatus)) {
    return sagaStatus;
  }
  // Named as the list names it (`canceled`, `timed_out`), from the same enum.
  return snakeCase(executionStatusName(description.status.code));
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

/** Most sagas one batch acts on; a `where` that matches more is capped, and the report says so. */
export const OVERRIDE_BATCH_LIMIT = 1000;

/** Which sagas a batch acts on: running sagas matching a visibility query, or orders by id. */
export type OverrideTarget = { where: string } | { orderIds: string[] };

/** What happened to one saga of a batch. */
export interface OverrideOutcome {
  orderId: string;
  outcome: 'accepted' | 'refused' | 'failed';
  /** The saga's reason for a refusal, or the error. */
  reason?: string;
}

/** Options of {@link sendOverrides}. */
export interface SendOverridesOptions {
  /** Only list the sagas the override would be sent to. @default true */
  dryRun?: boolean;
  /** Overrides in flight at once. @default 8 */
  concurrency?: number;
  /** Update id sent to every saga of the batch, so the same batch sent again is applied once per saga. */
  id?: string;
  /** Called as each saga answers, with how many have answered. */
  onProgress?: (outcome: OverrideOutcome, done: number, total: number) => void;
}

/** What {@link sendOverrides} returns: the sagas matched, and for a real run what each did. */
export interface OverridesReport {
  dryRun: boolean;
  orderIds: string[];
  /** True when the `where` query matched more than {@link OVERRIDE_BATCH_LIMIT} sagas and only the first were taken. */
  capped: boolean;
  results?: OverrideOutcome[];
  counts?: Record<OverrideOutcome['outcome'], number>;
}

/** The body of a batch of overrides, as the API takes it; {@link sendOverrides} checks its parts with it too. */
export const OverrideBatchSchema = z
  .strictObject({
    where: z
      .string({ error: 'must be a visibility query' })
      .trim()
      .min(1, { error: 'must be a visibility query' })
      .max(2000, { error: 'must be at most 2000 characters' })
      .refine(parenthesesBalance, { error: 'has unbalanced parentheses' })
      .optional(),
    orderIds: z
      .array(OrderIdSchema, { error: `must be a list of 1-${OVERRIDE_BATCH_LIMIT} order ids` })
      .min(1, { error: `must be a list of 1-${OVERRIDE_BATCH_LIMIT} order ids` })
      .max(OVERRIDE_BATCH_LIMIT, { error: `must be a list of 1-${OVERRIDE_BATCH_LIMIT} order ids` })
      .optional(),
    override: z.unknown(),
    dryRun: z.boolean({ error: 'must be true or false' }).default(true),
    concurrency: z
      .number({ error: 'must be 1-32' })
      .int({ error: 'must be 1-32' })
      .min(1, { error: 'must be 1-32' })
      .max(32, { error: 'must be 1-32' })
      .default(8),
  })
  .superRefine((batch, ctx) => {
    if ((batch.where === undefined) === (batch.orderIds === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of where and orderIds' });
    }
  });

/**
 * Validates a batch of overrides, naming every bad field (`where`, `orderIds.3`, `override.reason`, `concurrency`):
 * throws `InvalidRequestError`.
 */
export function parseOverrideBatch(body: unknown) {
  const parsed = OverrideBatchSchema.safeParse(body);
  const issues = parsed.success ? [] : toFieldIssues(parsed.error);
  let override: ReturnType<typeof parseOverride> | undefined;
  try {
    override = parseOverride((body as { override?: unknown } | null)?.override);
  } catch (err) {
    if (!(err instanceof InvalidRequestError)) throw err;
    issues.push(...err.issues.map((i) => ({ ...i, path: i.path === '(root)' ? 'override' : `override.${i.path}` })));
  }
  if (!parsed.success || !override) throw new InvalidRequestError(issues);
  const { where, orderIds, dryRun, concurrency } = parsed.data;
  const target: OverrideTarget = where !== undefined ? { where } : { orderIds: orderIds! };
  return { target, override: { action: override.action, ...(override.args as object) }, dryRun, concurrency };
}

/** True when every `(` outside quotes is closed: a `where` clause must not escape the parentheses it is put in. */
function parenthesesBalance(query: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (const c of query) {
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0 && !quote;
}

/**
 * Sends one override to many sagas: the running sagas a visibility query matches (ANDed with `WorkflowType =
 * 'refundSaga' AND ExecutionStatus = 'Running'`, at most {@link OVERRIDE_BATCH_LIMIT}), or orders by id. A dry run
 * (the default) only lists them; a real run sends the override to each, a few at a time, and reports each saga's
 * outcome. Throws `InvalidRequestError` for bad input, a query Temporal refuses included (as `where`).
 */
export async function sendOverrides(
  client: Client,
  target: OverrideTarget,
  input: unknown,
  options: SendOverridesOptions = {},
): Promise<OverridesReport> {
  const batch = parseOverrideBatch({
    ...target,
    override: input,
    dryRun: options.dryRun,
    concurrency: options.concurrency,
  });
  if (options.id !== undefined) {
    const id = OverrideIdSchema.safeParse(options.id);
    if (!id.success) throw new InvalidRequestError(toFieldIssues(id.error).map((i) => ({ ...i, path: 'id' })));
  }
  const { orderIds, capped } =
    'where' in batch.target
      ? await runningSagasWhere(client, batch.target.where)
      : { orderIds: [...new Set(batch.target.orderIds)], capped: false };
  if (batch.dryRun) return { dryRun: true, orderIds, capped };

  const results: OverrideOutcome[] = new Array<OverrideOutcome>(orderIds.length);
  let done = 0;
  await forEachBounded([...orderIds.keys()], batch.concurrency, async (i) => {
    results[i] = await overrideOutcome(client, orderIds[i]!, batch.override, options.id);
    options.onProgress?.(results[i], ++done, orderIds.length);
  });
  const counts = { accepted: 0, refused: 0, failed: 0 };
  for (const r of results) counts[r.outcome]++;
  return { dryRun: false, orderIds, capped, results, counts };
}

async function overrideOutcome(client: Client, orderId: string, input: unknown, id?: string): Promise<OverrideOutcome> {
  try {
    await sendOverride(client, orderId, input, { id });
    return { orderId, outcome: 'accepted' };
  } catch (err) {
    if (err instanceof OverrideRejectedError) return { orderId, outcome: 'refused', reason: err.message };
    if (err instanceof WorkflowNotFoundError) {
      return { orderId, outcome: 'failed', reason: `no refund for order ${orderId}` };
    }
    return { orderId, outcome: 'failed', reason: (err as Error).message };
  }
}

/** The order ids of the running sagas matching `where`, up to the batch limit. */
async function runningSagasWhere(client: Client, where: string): Promise<{ orderIds: string[]; capped: boolean }> {
  const query = `WorkflowType = 'refundSaga' AND ExecutionStatus = 'Running' AND (${where})`;
  const found = new Set<string>();
  let token: Uint8Array | undefined;
  do {
    const page = await visibilityPage(client, query, OVERRIDE_BATCH_LIMIT, token, 'where');
    for (const e of page.executions ?? []) {
      const workflowId = e.execution?.workflowId ?? '';
      // Checked again here, whatever the query said: a batch never acts on another workflow.
      if (e.type?.name === 'refundSaga' && executionStatusName(e.status) === 'Running' && /^refund-/.test(workflowId)) {
        found.add(workflowId.slice('refund-'.length));
      }
    }
    token = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (token && found.size <= OVERRIDE_BATCH_LIMIT);
  const orderIds = [...found];
  return { orderIds: orderIds.slice(0, OVERRIDE_BATCH_LIMIT), capped: orderIds.length > OVERRIDE_BATCH_LIMIT };
}
