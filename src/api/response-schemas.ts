/**
 * The routes' response schemas: what the client's functions return, each tied to its TypeScript type by a
 * compile-time check, and the error envelope. They serialize every answer and describe it in the OpenAPI document;
 * those with an `id` are its named components.
 */
import { z } from 'zod';
import type { listRefunds, OverridesReport, StartedRefund } from '../client';
import {
  OVERRIDE_ACTIONS,
  SAGA_STATUSES,
  STEP_STATES,
  STEPS,
  type FieldIssue,
  type RunEnd,
  type SagaStatusView,
} from '../domain';

/** True when `A` and `B` are the same type, optional fields included. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * Returns the schema as given, and fails to compile when its output is not exactly `T`: a response schema that lacked
 * a field would strip it from every answer, one with a field too many would document what is never sent.
 */
const describing =
  <T>() =>
  <S extends z.ZodType>(schema: S & (Same<z.output<S>, T> extends true ? unknown : { outputDiffersFrom: T })) =>
    schema;

/** A JSON response as the document shows it: its schema and what it means. */
export const json = <S extends z.ZodType>(schema: S, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const FieldIssueSchema = describing<FieldIssue>()(
  z.object({
    path: z.string().meta({ description: 'The field, e.g. `amount.value`, `orderIds.3`, `Idempotency-Key`, `(root)`' }),
    message: z.string(),
  }),
);

/** Every error's body: a code to branch on, a message for people, and the bad fields of a request. */
export const ErrorEnvelope = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), issues: z.array(FieldIssueSchema).optional() }),
  })
  .meta({ id: 'Error' });
export type ErrorEnvelope = z.output<typeof ErrorEnvelope>;

const timestamp = z.string().meta({ format: 'date-time' });

/** A started (or already existing) saga, as `POST /v1/refunds` answers. */
export const StartedRefundSchema = describing<Omit<StartedRefund, 'alreadyExisted'>>()(
  z.object({ workflowId: z.string(), runId: z.string(), status: z.enum(SAGA_STATUSES) }).meta({ id: 'StartedRefund' }),
);

const step = z.enum(STEPS);
const amount = z.object({ value: z.string(), currency: z.string() });
const appliedOverride = z.object({
  action: z.enum(OVERRIDE_ACTIONS),
  step: step.optional(),
  operator: z.string(),
  reason: z.string(),
  at: timestamp,
});
const stepOutcome = z.enum([
  'reversed',
  'already_reversed',
  'skipped',
  'confirmed_by_operator',
  'not_applicable',
  'not_started',
  'left_for_manual_handling',
]);
const RUN_ENDS = ['terminated', 'timed_out', 'failed', 'canceled', 'continued_as_new'] as const satisfies RunEnd[];

/** The saga's full status: `GET /v1/refunds/{orderId}` and the answer to an override. */
export const SagaStatusViewSchema = describing<SagaStatusView>()(
  z
    .object({
      orderId: z.string(),
      status: z.enum([...SAGA_STATUSES, ...RUN_ENDS]).meta({
        description: 'The saga status; a run that ended mid-saga is reported by how it ended (`terminated`, …)',
      }),
      steps: z.record(
        step,
        z.object({
          state: z.enum(STEP_STATES),
          attempts: z.number().int(),
          lastError: z
            .object({
              type: z.string(),
              message: z.string(),
              provider: z.string().optional(),
              status: z.number().int().optional(),
              requestId: z.string().optional(),
            })
            .optional(),
          deadline: timestamp.optional().meta({ description: 'When a waiting step must be done by' }),
          detail: z.string().optional(),
        }),
      ),
      overrides: z.array(appliedOverride),
      refusedOverrides: z
        .array(z.object({ action: z.enum(OVERRIDE_ACTIONS), step: step.optional(), reason: z.string(), at: timestamp }))
        .optional()
        .meta({ description: 'Refused signals and discarded decisions, newest last (the last 20)' }),
      startedAt: timestamp,
      updatedAt: timestamp,
      completedAt: timestamp.optional(),
      result: z
        .object({
          orderId: z.string(),
          outcome: z.enum(['completed', 'aborted']),
          payment: z.object({
            outcome: stepOutcome,
            paymentId: z.string(),
            cancelId: z.string().optional(),
            settlement: z.enum(['confirmed', 'paid']).optional(),
            amount: amount.optional(),
            requestedAmount: amount.optional(),
          }),
          carbon: z.object({
            outcome: stepOutcome,
            provider: z.enum(['stripe_climate', 'squake']).optional(),
            resourceId: z.string().optional(),
            refunded: amount.optional(),
            feesNotRefunded: amount.optional(),
            tonnes: z.string().optional(),
            detail: z.string().optional(),
          }),
          impact: z.object({
            outcome: stepOutcome,
            userId: z.string().optional(),
            timeUtc: z.string().optional(),
            cancelledOn: z.string().optional(),
            reversed: z
              .object({
                trees: z.number().optional(),
                wasteLbs: z.number().optional(),
                carbonLbs: z.number().optional(),
                moneyCents: z.number().optional(),
              })
              .optional(),
          }),
          recon: z.object({
            outcome: stepOutcome,
            recordId: z.string().optional(),
            fundsDateTime: z.string().optional(),
            evidence: z.string().optional(),
          }),
          leftForManualHandling: z.array(step),
          overrides: z.array(appliedOverride),
          startedAt: timestamp,
          completedAt: timestamp,
        })
        .optional(),
    })
    .meta({ id: 'SagaStatusView' }),
);

/** A page of `GET /v1/refunds`. */
export const RefundListPageSchema = describing<Awaited<ReturnType<typeof listRefunds>>>()(
  z.object({
    refunds: z.array(
      z.object({
        orderId: z.string(),
        workflowId: z.string(),
        runId: z.string().optional(),
        status: z
          .string()
          .optional()
          .meta({
            description:
              'The saga status; for a run that ended without the saga saying so (terminated, failed, timed out), how ' +
              'the run ended: `terminated`, `failed`, `timed_out`, `canceled`',
          }),
        step: z.string().optional().meta({ description: 'The step the saga is on (`done` when finished)' }),
        executionStatus: z.string().meta({
          description: 'The run in Temporal visibility: Running, Completed, Failed, Canceled, Terminated, TimedOut, …',
        }),
        needsAttention: z.boolean().meta({ description: 'Only ever true for a running saga' }),
        startedAt: timestamp.optional(),
        error: z
          .object({ type: z.string(), message: z.string() })
          .optional()
          .meta({
            description:
              "For a running saga that needs attention: the blocked step's last error (absent when the saga's status " +
              'query could not be answered in time)',
          }),
        deadline: timestamp.optional().meta({ description: "The blocked step's deadline, if it has one" }),
      }),
    ),
    nextPageToken: z.string().optional().meta({ description: 'Present when there are more rows' }),
  }),
);

const outcome = z.enum(['accepted', 'refused', 'failed']);

/** What a batch of overrides did, or for a dry run would act on. */
export const OverridesReportSchema = describing<OverridesReport>()(
  z.object({
    dryRun: z.boolean(),
    orderIds: z.array(z.string()),
    capped: z.boolean(),
    results: z
      .array(z.object({ orderId: z.string(), outcome, reason: z.string().optional() }))
      .optional()
      .meta({ description: 'A real run only: one entry per saga, in the order of `orderIds`' }),
    counts: z.record(outcome, z.number().int()).optional(),
  }),
);

/** The Circle webhook's answer. */
export const CircleWebhookAnswer = z.object({
  signalled: z.string().meta({ description: 'The workflow id of the saga told to look at Circle now' }),
});
