/** The API's OpenAPI 3.1 document, served at `/openapi.json`; request schemas come from the same zod schemas. */
import { z } from 'zod';
import { OVERRIDE_ACTIONS, RefundRequestSchema, SAGA_STATUSES } from '../domain';

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
          { name: 'status', in: 'query', schema: { enum: [...SAGA_STATUSES] } },
          { name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
          { name: 'pageToken', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: '`{ refunds, nextPageToken? }`' }, '400': errorResponse('Invalid query') },
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
        parameters: [orderIdParam],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Override' } } },
        },
        responses: {
          '200': { description: 'Accepted; the new saga status' },
          '400': errorResponse('Invalid override'),
          '404': errorResponse('No refund for this order'),
          '409': errorResponse("Rejected by the saga's validator, with its reason"),
        },
      },
    },
  },
};
