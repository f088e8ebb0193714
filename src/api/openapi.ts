/** The API's OpenAPI 3.1 document, served at `/openapi.json`; request schemas come from the same zod schemas. */
import { z } from 'zod';
import { CARBON_PROVIDER_FILTERS, OVERRIDE_BATCH_LIMIT, STEP_FILTERS } from '../client';
import { ERROR_TYPES, OVERRIDE_ACTIONS, RefundRequestSchema, SAGA_STATUSES } from '../domain';

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: {
          type: 'array',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
};
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const started = {
  description: '',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/StartedRefund' } } },
};
const orderIdParam = {
  name: 'orderId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
};
const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes the override idempotent: it is sent as the Temporal update id, so a repeat with the same key is applied ' +
    'once and answered with the first outcome (even when its body differs). Without it, every request is applied.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
};
const json = (schema: object, description = '') => ({ description, content: { 'application/json': { schema } } });

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'refund-saga', version: '0.1.0', description: 'Start, follow and steer refund sagas.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      RefundRequest: z.toJSONSchema(RefundRequestSchema, { io: 'input', unrepresentable: 'any' }),
      StartedRefund: {
        type: 'object',
        properties: { workflowId: { type: 'string' }, runId: { type: 'string' }, status: { enum: [...SAGA_STATUSES] } },
      },
      Override: {
        type: 'object',
        required: ['action', 'operator', 'reason'],
        properties: {
          action: { enum: [...OVERRIDE_ACTIONS] },
          step: { enum: ['payment', 'carbon', 'impact', 'recon'] },
          operator: { type: 'string' },
          reason: { type: 'string' },
          evidence: { type: 'string' },
          duration: {
            oneOf: [
              { type: 'integer', minimum: 1 },
              { type: 'string', pattern: '^\\d+(ms|s|m|h|d)$' },
            ],
          },
        },
      },
      RefundListEntry: {
        type: 'object',
        required: ['orderId', 'workflowId', 'executionStatus', 'needsAttention'],
        properties: {
          orderId: { type: 'string' },
          workflowId: { type: 'string' },
          runId: { type: 'string' },
          status: {
            type: 'string',
            description:
              'The saga status; for a run that ended without the saga saying so (terminated, failed, timed out), ' +
              'how the run ended: `terminated`, `failed`, `timed_out`, `canceled`',
          },
          step: { type: 'string', description: 'The step the saga is on (`done` when finished)' },
          executionStatus: {
            type: 'string',
            description:
              'The run in Temporal visibility: Running, Completed, Failed, Canceled, Terminated, TimedOut, …',
          },
          needsAttention: { type: 'boolean', description: 'Only ever true for a running saga' },
          startedAt: { type: 'string', format: 'date-time' },
          error: {
            type: 'object',
            description:
              "For a running saga that needs attention: the blocked step's last error (absent when the saga's " +
              'status query could not be answered in time)',
            properties: { type: { type: 'string' }, message: { type: 'string' } },
          },
          deadline: { type: 'string', format: 'date-time', description: "The blocked step's deadline, if it has one" },
        },
      },
      OverrideBatch: {
        type: 'object',
        required: ['override'],
        description: 'Exactly one of `where` and `orderIds`.',
        properties: {
          where: {
            type: 'string',
            maxLength: 2000,
            description:
              "A visibility query, ANDed with `WorkflowType = 'refundSaga' AND ExecutionStatus = 'Running'`; " +
              `at most ${OVERRIDE_BATCH_LIMIT} sagas are taken (\`capped\` says when more matched)`,
          },
          orderIds: {
            type: 'array',
            minItems: 1,
            maxItems: OVERRIDE_BATCH_LIMIT,
            items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          },
          override: { $ref: '#/components/schemas/Override' },
          dryRun: { type: 'boolean', default: true, description: 'Only list the sagas the override would be sent to' },
          concurrency: { type: 'integer', minimum: 1, maximum: 32, default: 8 },
        },
      },
      OverrideBatchReport: {
        type: 'object',
        required: ['dryRun', 'orderIds', 'capped'],
        properties: {
          dryRun: { type: 'boolean' },
          orderIds: { type: 'array', items: { type: 'string' } },
          capped: { type: 'boolean' },
          results: {
            type: 'array',
            description: 'A real run only: one entry per saga, in the order of `orderIds`',
            items: {
              type: 'object',
              required: ['orderId', 'outcome'],
              properties: {
                orderId: { type: 'string' },
                outcome: { enum: ['accepted', 'refused', 'failed'] },
                reason: { type: 'string' },
              },
            },
          },
          counts: {
            type: 'object',
            properties: {
              accepted: { type: 'integer' },
              refused: { type: 'integer' },
              failed: { type: 'integer' },
            },
          },
        },
      },
      Error: error,
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/refunds': {
      post: {
        summary: 'Start the refund saga of an order (idempotent per orderId and request)',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/RefundRequest' } } },
        },
        responses: {
          '202': { ...started, description: 'Started' },
          '200': {
            ...started,
            description: 'The saga already existed, started with the same request; nothing new was started',
          },
          '400': errorResponse('Invalid request; `issues` names every bad field; nothing was started'),
          '401': errorResponse('Missing or wrong bearer token'),
          '409': errorResponse(
            "`request_conflict`: the order's saga was started with a different request; `issues` names each differing " +
              'field; nothing was changed',
          ),
        },
      },
      get: {
        summary: 'List refunds from Temporal visibility',
        parameters: [
          {
            name: 'status',
            in: 'query',
            description: '`needs_attention` lists running sagas only',
            schema: { enum: [...SAGA_STATUSES] },
          },
          { name: 'step', in: 'query', schema: { enum: [...STEP_FILTERS] } },
          { name: 'carbonProvider', in: 'query', schema: { enum: [...CARBON_PROVIDER_FILTERS] } },
          {
            name: 'errorType',
            in: 'query',
            description: "the blocked step's error type (`RefundErrorType`)",
            schema: { enum: [...ERROR_TYPES] },
          },
          { name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
          {
            name: 'pageToken',
            in: 'query',
            description: 'The `nextPageToken` of the previous page, with the same filters',
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
          },
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['refunds'],
              properties: {
                refunds: { type: 'array', items: { $ref: '#/components/schemas/RefundListEntry' } },
                nextPageToken: { type: 'string', description: 'Present when there are more rows' },
              },
            },
            'A page of refunds',
          ),
          '400': errorResponse('Invalid filter or page token; `issues` names the parameter'),
        },
      },
    },
    '/v1/refunds/{orderId}': {
      get: {
        summary: 'The saga status of one order',
        parameters: [orderIdParam],
        responses: { '200': { description: 'Saga status' }, '404': errorResponse('No refund for this order') },
      },
    },
    '/v1/refunds/{orderId}/overrides': {
      post: {
        summary: 'Send an operator override',
        parameters: [orderIdParam, idempotencyKeyHeader],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Override' } } },
        },
        responses: {
          '200': { description: 'Accepted; the new saga status' },
          '400': errorResponse('Invalid override or Idempotency-Key; `issues` names the field'),
          '404': errorResponse('No refund for this order: it never had a saga'),
          '409': errorResponse(
            "`override_rejected`: refused by the saga's validator, with its reason; `saga_ended`: the saga has ended " +
              '(`the saga has ended (completed)`, `aborted`, `terminated`, …)',
          ),
        },
      },
    },
    '/v1/refunds/overrides:batch': {
      post: {
        summary: 'Send one override to many sagas (a dry run unless `dryRun: false`)',
        parameters: [{ ...idempotencyKeyHeader, description: 'Sent as the update id to every saga of the batch' }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/OverrideBatch' } } },
        },
        responses: {
          '200': json(
            { $ref: '#/components/schemas/OverrideBatchReport' },
            'The sagas matched; for a real run, what each did and the counts',
          ),
          '400': errorResponse(
            'Invalid batch, or a `where` query Temporal refuses; `issues` names each field (`where`, `orderIds.3`, ' +
              '`override.reason`, `concurrency`, `Idempotency-Key`)',
          ),
        },
      },
    },
  },
};
