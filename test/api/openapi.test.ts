import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApi } from '../../src/api/server';
import { operatorToken } from '../support/api-auth';
import { RefundRequestSchema, STEPS } from '../../src/domain';

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Operation {
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: object };
}

// No route below reaches Temporal: the document, the docs page and refusals are answered before any client call.
const client = {} as Client;
let api: FastifyInstance;
let doc: Document;
beforeAll(async () => {
  api = buildApi({ client, authenticator: operatorToken('test-token') });
  const response = await api.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  doc = response.json<Document>();
});
afterAll(() => api.close());

/** The schema itself, or the component a `$ref` names. */
const resolve = (schema: Schema | undefined): Schema => {
  if (!schema?.$ref) return schema ?? {};
  const component = doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
  expect(component, schema.$ref).toBeDefined();
  return component!;
};
const jsonSchema = (operation: Operation | undefined, status: string) =>
  resolve(operation?.responses[status]?.content?.['application/json']?.schema);

describe('the OpenAPI document, generated from the routes’ zod schemas', () => {
  it('lists the /v1 routes and nothing else: no docs, health or webhook routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual([
      '/v1/refunds',
      '/v1/refunds/{orderId}',
      '/v1/refunds/{orderId}/overrides',
      '/v1/refunds/overrides:batch',
    ]);
  });

  it('takes the body of POST /v1/refunds from the domain’s RefundRequestSchema, as zod renders it', () => {
    const body = resolve(doc.paths['/v1/refunds']?.post?.requestBody?.content['application/json']?.schema);
    const { $schema: _, ...fromZod } = z.toJSONSchema(RefundRequestSchema, { io: 'input', target: 'draft-2020-12' });
    expect(body).toEqual(fromZod);
    expect(Object.keys(body.properties ?? {})).toEqual([
      'orderId',
      'reason',
      'amount',
      'payment',
      'carbon',
      'impact',
      'recon',
    ]);
    expect(body.required).toEqual(['orderId', 'amount', 'payment']);
  });

  it('describes the status GET /v1/refunds/{orderId} answers, with its steps, and its errors', () => {
    const get = doc.paths['/v1/refunds/{orderId}']?.get;
    expect(get?.parameters).toEqual([expect.objectContaining({ name: 'orderId', in: 'path' })]);
    const view = jsonSchema(get, '200');
    expect(view.required).toEqual(expect.arrayContaining(['orderId', 'status', 'steps', 'overrides', 'startedAt']));
    expect(view.properties?.steps).toMatchObject({ type: 'object', required: [...STEPS] });
    expect(Object.keys(get?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '404', '429']);
    const error = jsonSchema(get, '404');
    expect(error).toMatchObject({ required: ['error'] });
    expect(resolve(error.properties?.error)).toMatchObject({
      required: ['code', 'message'],
      properties: { issues: { type: 'array' } },
    });
  });

  it('gives the list its query parameters and a page schema, and every operation its 401 in the error envelope', () => {
    const list = doc.paths['/v1/refunds']?.get;
    expect(list?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual([
      'query:status',
      'query:step',
      'query:errorType',
      'query:carbonProvider',
      'query:pageSize',
      'query:pageToken',
    ]);
    expect(jsonSchema(list, '200')).toMatchObject({
      required: ['refunds'],
      properties: { refunds: { type: 'array' } },
    });
    const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods));
    expect(operations).toHaveLength(5);
    for (const operation of operations) {
      expect(operation.responses['401']?.content?.['application/json']?.schema).toEqual({
        $ref: '#/components/schemas/Error',
      });
    }
  });

  it('gives every operation with a body its 413 and 415, and those without none', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const expected = operation.requestBody ? ['413', '415'] : [];
        const statuses = Object.keys(operation.responses).filter((status) => ['413', '415'].includes(status));
        expect(statuses, `${method} ${path}`).toEqual(expected);
        for (const status of statuses) {
          expect(jsonSchema(operation, status)).toBe(resolve({ $ref: '#/components/schemas/Error' }));
        }
      }
    }
  });

  it('names the override body and the Idempotency-Key header of an override', () => {
    const post = doc.paths['/v1/refunds/{orderId}/overrides']?.post;
    expect(post?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(['path:orderId', 'header:idempotency-key']);
    const body = resolve(post?.requestBody?.content['application/json']?.schema);
    expect(body).toHaveProperty('oneOf');
    expect(jsonSchema(post, '200')).toBe(jsonSchema(doc.paths['/v1/refunds/{orderId}']?.get, '200'));
  });

  it('serves the document’s browser at /docs, without a token', async () => {
    const page = await api.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
  });
});
