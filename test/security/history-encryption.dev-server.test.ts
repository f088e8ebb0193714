/**
 * One refund saga on the dev server with the payload codec on the worker and the client: its whole history, as
 * Temporal exports it, holds none of the personal data sent and none of the key, while the same history decoded
 * through the codec does show that data (so the search could find it).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRefund } from '../../src/client';
import { REFUND_SEARCH_ATTRIBUTES, skipStepUpdate, type RefundRequest } from '../../src/domain';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { encryptedDataConverter, ENCRYPTED_ENCODING, PayloadEncryptionCodec } from '../../src/security/codec';
import { generatePayloadKey } from '../../src/security/keys';
import { sagaWorkerOptions } from '../../src/worker';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';
import { FAST_POLLING } from '../support/stack';
import { uniqueTaskQueue, workflowBundle } from '../support/temporal';

type History = temporal.api.history.v1.IHistory;

const key = generatePayloadKey('e2e-2026-11');
const codec = new PayloadEncryptionCodec([key]);

let env: TestWorkflowEnvironment;
let sandboxes: RunningSandboxes;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('encrypted');

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({
    address: inject('temporalAddress'),
    client: { dataConverter: encryptedDataConverter([key]) },
  });
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 300 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 300 });
  // The saga's own worker options (activities, interceptors, sinks), with the codec on.
  worker = await Worker.create(
    sagaWorkerOptions(sandboxClients(sandboxes, 1000), {
      taskQueue,
      connection: env.nativeConnection,
      workflowBundle: workflowBundle(),
      dataConverter: encryptedDataConverter([key]),
    }),
  );
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await sandboxes?.close();
  await env?.teardown();
});

/** Long, unique strings: a short one (say "U42") turns up by chance in kilobytes of base64 and ciphertext. */
function personalData() {
  const digits = Array.from({ length: 18 }, () => randomInt(10)).join('');
  return {
    consumerReference: `consumer-ref-${randomUUID()}`,
    userId: `U${digits}`,
    requestReason: `customer complaint ${randomUUID()}`,
    operator: `ops.${randomUUID().slice(0, 8)}@example.com`,
    overrideReason: `refunded in the Stripe dashboard ${randomUUID()}`,
    evidence: `ticket ${randomUUID()}`,
  };
}

/** One order in the sandboxes, its Stripe order past its 24 h window so that an operator must step in. */
function seed(data: ReturnType<typeof personalData>): RefundRequest {
  const paymentId = randomUUID();
  const fundsAllocationId = randomUUID();
  const carbonOrderId = `climorder_${randomUUID().replaceAll('-', '')}`;
  const timeUtc = new Date(Date.now() - 3_600_000).toISOString();
  sandboxes.circle.addFixtures({ payments: [{ id: paymentId }] });
  sandboxes.stripeClimate.addFixtures({ orders: [{ id: carbonOrderId, ageSeconds: 25 * 3600 }] });
  sandboxes.impactRecon.addFixtures({
    allocations: [
      {
        fundsAllocationId,
        consumerReference: data.consumerReference,
        fundsDateTime: new Date(Date.now() - 60_000).toISOString(),
      },
    ],
  });
  sandboxes.oneClickImpact.addFixtures({
    impacts: [{ user_id: data.userId, time_utc: timeUtc, tree_planted: 3, fundsAllocationId }],
  });
  return {
    orderId: `ord_${randomUUID().slice(0, 8)}`,
    reason: data.requestReason,
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId },
    carbon: { provider: 'stripe_climate', orderId: carbonOrderId },
    impact: { provider: '1clickimpact', userId: data.userId, timeUtc },
    recon: { fundsAllocationId, consumerReference: data.consumerReference },
  };
}

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const isPayload = (value: unknown): value is Payload =>
  typeof value === 'object' &&
  value !== null &&
  'metadata' in value &&
  typeof value.metadata === 'object' &&
  value.metadata !== null &&
  'encoding' in value.metadata;

/** Every payload in the history, with where it is (`events.4.workflowExecutionStartedEventAttributes.input…`). */
function payloadsOf(value: unknown, path = ''): Array<{ path: string; payload: Payload }> {
  if (isPayload(value)) return [{ path, payload: value }];
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => payloadsOf(v, path ? `${path}.${k}` : k));
}

/**
 * The history as Temporal exports it (proto JSON: payload bytes in base64), each base64 string also shown decoded,
 * and the history's binary form: personal data in any payload in the clear is in one of them, byte for byte.
 */
function exposure(history: History): { json: string; readable: string; binary: Buffer } {
  const json = historyToJSON(history);
  const readable = JSON.stringify(
    JSON.parse(json, (_key, value: unknown) =>
      typeof value === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0
        ? `${value} ${Buffer.from(value, 'base64').toString('latin1')}`
        : value,
    ),
  );
  const binary = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  return { json, readable, binary };
}

/** The history with every encrypted payload decoded through the codec, as the UI shows it with a codec server. */
async function decodedThroughCodec(history: History): Promise<History> {
  const copy = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(history).finish());
  for (const { payload } of payloadsOf(copy)) {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) continue;
    const [decoded] = await codec.decode([payload]);
    payload.metadata = decoded!.metadata;
    payload.data = decoded!.data;
  }
  return copy;
}

/** Payloads no codec sees: the server indexes search attributes, and the SDK writes and reads the others itself. */
const SDK_READABLE = [
  // Search attributes (the saga's and TemporalChangeVersion): the server must read them to list and filter.
  /\.searchAttributes\.indexedFields\.\w+$/,
  // The OpenTelemetry interceptors' trace context: the TypeScript SDK does not run headers through the codec.
  /\.header\.fields\._tracer-data$/,
  // The SDK's own marker bookkeeping: a patch's id, a local activity's id, attempt and times (its result is sealed).
  /\.markerRecordedEventAttributes\.details\.(patch-data|data)\.payloads\.\d+$/,
];

const found = (haystack: { readable: string; binary: Buffer }, needle: string) =>
  haystack.readable.includes(needle) || haystack.binary.includes(Buffer.from(needle, 'utf8'));

describe('payload encryption in workflow history (dev server, real worker, codec on worker and client)', () => {
  it('keeps personal data and key material out of the exported history, which shows them once decoded', async () => {
    const data = personalData();
    const request = seed(data);
    const started = await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);
    await waitForStatus(handle, (s) => s.steps.carbon.state === 'blocked', 30_000);
    await handle.executeUpdate(skipStepUpdate, {
      args: [{ step: 'carbon', operator: data.operator, reason: data.overrideReason, evidence: data.evidence }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({
      outcome: 'completed',
      carbon: { outcome: 'skipped' },
      impact: { outcome: 'reversed' },
      recon: { outcome: 'reversed' },
      overrides: [expect.objectContaining({ operator: data.operator, reason: data.overrideReason })],
    });

    const history = await handle.fetchHistory();
    const stored = exposure(history);
    for (const [what, value] of Object.entries(data)) expect(found(stored, value), what).toBe(false);
    const keyForms = [key.key.toString('base64'), key.key.toString('base64url'), key.key.toString('hex')];
    for (const form of keyForms) {
      expect(stored.json.includes(form) || stored.readable.includes(form) || stored.binary.includes(form)).toBe(false);
    }
    expect(stored.binary.includes(key.key)).toBe(false);
    expect(stored.readable.includes(key.key.toString('latin1'))).toBe(false);

    // Every payload is sealed but for what the server or the SDK reads itself (see SDK_READABLE), none of it personal.
    const payloads = payloadsOf(history);
    const clear = payloads.filter(({ payload }) => text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING);
    expect(payloads.length - clear.length).toBeGreaterThan(20);
    expect(clear.map((p) => p.path).filter((path) => !SDK_READABLE.some((pattern) => pattern.test(path)))).toEqual([]);
    const attributes = new Set(clear.flatMap((p) => /\.indexedFields\.(\w+)$/.exec(p.path)?.[1] ?? []));
    expect([...attributes].sort()).toEqual(
      [...REFUND_SEARCH_ATTRIBUTES.map((k) => k.name), 'TemporalChangeVersion'].sort(),
    );
    for (const { payload } of clear) {
      const value = JSON.stringify(defaultPayloadConverter.fromPayload(payload));
      for (const secret of Object.values(data)) expect(value).not.toContain(secret);
    }

    // The control: decoded through the codec, the same history shows every one of them, so the search above works.
    const decoded = exposure(await decodedThroughCodec(history));
    for (const [what, value] of Object.entries(data)) expect(found(decoded, value), what).toBe(true);
  });
});
