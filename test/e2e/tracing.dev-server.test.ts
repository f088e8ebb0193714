/**
 * OpenTelemetry end to end: the API and the worker run as their own processes (`refund-saga api`, `refund-saga
 * worker`) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector on loopback, and one refund started over HTTP makes
 * one trace: the API's request, the saga's start, its workflow and activities, and the provider HTTP calls.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { startTestSandboxes } from '../support/sandboxes';
import { startProcess, workerEnv, type StartedProcess } from '../support/processes';
import { seedOrder } from '../support/stack';
import { workflowBundle } from '../support/temporal';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

const token = `test_${randomUUID()}`;
const webhookSecret = `whsec_${randomUUID()}`;
const spans: Span[] = [];
let collector: Server;
let sandboxes: RunningSandboxes;
const processes: StartedProcess[] = [];
let apiUrl: string;

/** OTLP/HTTP JSON export requests, flattened to spans with their service name. */
function collect(body: string): void {
  const { resourceSpans = [] } = JSON.parse(body) as {
    resourceSpans?: Array<{
      resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans: Array<{ spans: Span[] }>;
    }>;
  };
  for (const { resource, scopeSpans } of resourceSpans) {
    const service = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    for (const { spans: batch } of scopeSpans) for (const span of batch) spans.push({ ...span, service });
  }
}

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') collect(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  sandboxes = await startTestSandboxes();
  // The API runs with the production polling: Circle's webhook ends the settlement wait, and the reversal is in the
  // feed by the first recon read.
  sandboxes.impactRecon.configure({ reversalDelayMs: 0 });
  const env = {
    ...workerEnv(inject('temporalAddress'), `tracing-${randomUUID()}`, sandboxes.urls),
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    LOG_LEVEL: 'info',
    API_TOKEN: token,
    CIRCLE_WEBHOOK_SECRET: webhookSecret,
    PORT: '0',
  };
  const [api, worker] = await Promise.all([
    startProcess('api', env, /refund API on/),
    startProcess('worker', env, /worker polling/),
  ]);
  processes.push(api, worker);
  apiUrl = /"url":"([^"]+)"/.exec(api.readyLine)![1]!;
  sandboxes.circle.configure({ settleDelayMs: 100, webhookUrl: `${apiUrl}/v1/webhooks/circle`, webhookSecret });
}, 120_000);

afterAll(async () => {
  for (const child of processes) child.kill('SIGTERM');
  await sandboxes?.close();
  await new Promise((resolve) => collector?.close(resolve));
});

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('tracing (OpenTelemetry over OTLP, dev server)', () => {
  it('makes one trace from the API request through the saga’s workflow and activities to the provider calls', async () => {
    const request = seedOrder(sandboxes);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const started = await fetch(`${apiUrl}/v1/refunds`, {
      method: 'POST',
      headers,
      body: JSON.stringify(request),
    });
    expect(started.status, await started.clone().text()).toBe(202);
    await until(async () => {
      const status = (await (await fetch(`${apiUrl}/v1/refunds/${request.orderId}`, { headers })).json()) as {
        status: string;
      };
      return status.status === 'completed' ? status : undefined;
    }, 'the saga completes');

    const trace = await until(() => {
      const start = spans.find((s) => s.name === 'StartWorkflow:refundSaga');
      if (!start) return undefined;
      const inTrace = spans.filter((s) => s.traceId === start.traceId);
      // The workflow's own span ends with the run and is exported after the activities' spans: wait for both.
      const names = new Set(inTrace.map((s) => s.name));
      return names.has('RunActivity:findReconReversal') && names.has('RunWorkflow:refundSaga') ? inTrace : undefined;
    }, 'the saga’s spans reach the collector');

    const names = trace.map((s) => `${s.service} ${s.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^refund-saga-api POST/),
        'refund-saga-api StartWorkflow:refundSaga',
        'refund-saga-worker RunWorkflow:refundSaga',
        'refund-saga-worker RunActivity:cancelCirclePayment',
        'refund-saga-worker RunActivity:cancelStripeClimateOrder',
        'refund-saga-worker RunActivity:cancelImpact',
      ]),
    );
    // The provider calls are children of the activity that made them.
    const activity = trace.find((s) => s.name === 'RunActivity:cancelImpact')!;
    const providerCalls = trace.filter(
      (s) => s.parentSpanId === activity.spanId && /^(POST|GET|PUT|DELETE)/.test(s.name),
    );
    expect(providerCalls.length).toBeGreaterThan(0);
    // The API's request span is the root: everything else descends from it.
    const roots = trace.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => `${s.service} ${s.name}`)).toEqual([expect.stringMatching(/^refund-saga-api POST/)]);

    // Turning tracing off must not break sagas that ran traced: their history replays on a worker without it.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const workflowId = `refund-${request.orderId}`;
      const history = await new Client({ connection }).workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, workflowId);
    } finally {
      await connection.close();
    }
  });
});
