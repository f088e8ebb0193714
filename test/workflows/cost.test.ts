/**
 * A saga costs only what it must (time-skipping server, stubbed activities): the start sets the search attributes, the
 * saga writes them only when its status, attention or error type changes, at most once per workflow task, and records
 * one patch marker.
 */
import { Client, Connection, type ConnectionOptions, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconLookup } from '../../src/activities';
import { startRefund } from '../../src/client';
import {
  ErrorType,
  NeedsAttentionKey,
  RefundErrorTypeKey,
  RefundStatusKey,
  RefundStepKey,
  skipStepUpdate,
} from '../../src/domain';
import { validRequest } from '../support/fixtures';
import { recordHistory } from '../support/histories';
import { counted, succeedingActivities, waitForStatus, withSagaWorker } from '../support/saga';
import { timeSkippingEnvironment } from '../support/temporal';

const EventType = temporal.api.enums.v1.EventType;
const who = { operator: 'ops@example.com', reason: 'checked with the provider' };
let env: TestWorkflowEnvironment;
let orderSeq = 0;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(() => env?.teardown());

async function start(taskQueue: string, sagaOptions = {}) {
  const started = await startRefund(env.client, validRequest(`ord_cost_${++orderSeq}`), { taskQueue, sagaOptions });
  return env.client.workflow.getHandle(started.workflowId);
}

/** The saga's own search attribute upserts (not the SDK's `TemporalChangeVersion`), by the workflow task that made them. */
async function upserts(handle: WorkflowHandle) {
  const { events } = await handle.fetchHistory();
  const byTask = new Map<number, string[][]>();
  for (const event of events ?? []) {
    const upsert = event.upsertWorkflowSearchAttributesEventAttributes;
    if (!upsert) continue;
    const keys = Object.keys(upsert.searchAttributes?.indexedFields ?? {}).filter((k) => k !== 'TemporalChangeVersion');
    if (!keys.length) continue;
    const task = Number(upsert.workflowTaskCompletedEventId);
    byTask.set(task, [...(byTask.get(task) ?? []), keys.sort()]);
  }
  const markers = (events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED).length;
  return { all: [...byTask.values()].flat(), perTask: [...byTask.values()].map((u) => u.length), markers, events };
}

describe('search attributes cost one upsert per change of status', () => {
  it('writes them once on the happy path, in its last task, after the start set them', async () => {
    await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const handle = await start(taskQueue);
      await handle.result();
      await recordHistory('lean-happy-path', handle);
      const { all, markers, events } = await upserts(handle);
      expect(all).toEqual([['RefundStatus', 'RefundStep']]);
      expect(markers).toBe(1);
      const attributes = (await handle.describe()).typedSearchAttributes;
      expect(attributes.get(RefundStatusKey)).toBe('completed');
      expect(attributes.get(RefundStepKey)).toBe('done');
      expect(attributes.get(NeedsAttentionKey)).toBe(false);
      // The target: at most 45 events on the happy path.
      expect(events?.length).toBeLessThanOrEqual(45);
    });
  });

  it('upserts at most once per workflow task: a skip of the last blocked step that ends the saga writes only the end', async () => {
    const mismatch = (): Promise<ReconLookup> =>
      Promise.resolve({ kind: 'mismatched', recordId: 'rev-x', differences: ['total: 12.6 vs 11.6'], scanned: 1 });
    await withSagaWorker(env, succeedingActivities({ findReconReversal: mismatch }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'needs_attention');
      const blocked = (await handle.describe()).typedSearchAttributes;
      expect(blocked.get(RefundStatusKey)).toBe('needs_attention');
      expect(blocked.get(NeedsAttentionKey)).toBe(true);
      expect(blocked.get(RefundErrorTypeKey)).toBe(ErrorType.ReconMismatch);
      expect(blocked.get(RefundStepKey)).toBe('recon');
      await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'recon', ...who }] });
      await handle.result();
      await recordHistory('lean-recon-mismatch-skipped', handle);
      const { all, perTask } = await upserts(handle);
      expect(perTask.every((n) => n === 1)).toBe(true);
      // Blocked, then (running and completed in one task) completed: two writes.
      expect(all).toHaveLength(2);
      const ended = (await handle.describe()).typedSearchAttributes;
      expect(ended.get(RefundStatusKey)).toBe('completed');
      expect(ended.get(NeedsAttentionKey)).toBe(false);
      expect(ended.get(RefundErrorTypeKey)).toBe('none');
    });
  });

  it('is awaiting_recon only once a read found no reversal, and each poll after that writes nothing', async () => {
    const find = counted((call): Promise<ReconLookup> =>
      Promise.resolve(
        call < 4
          ? { kind: 'none', scanned: 1 }
          : { kind: 'matched', recordId: 'rev-1', fundsDateTime: '2026-11-22T12:05:00Z', scanned: 2 },
      ),
    );
    await withSagaWorker(env, succeedingActivities({ findReconReversal: find }), async (taskQueue) => {
      const handle = await start(taskQueue, { pollInitialMs: 60_000 });
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      expect((await handle.describe()).typedSearchAttributes.get(RefundStatusKey)).toBe('awaiting_recon');
      await handle.result();
      expect(find.calls).toHaveLength(4);
      const { all } = await upserts(handle);
      // awaiting_recon once, completed once: the three polls that found nothing wrote no attribute.
      expect(all).toEqual([
        ['RefundStatus', 'RefundStep'],
        ['RefundStatus', 'RefundStep'],
      ]);
    });
  });
});

describe('a start costs one server call', () => {
  it('starts a saga with one call, and reads the saga only when the order already has one', async () => {
    const calls: string[] = [];
    const connection = await Connection.connect({
      address: env.address,
      interceptors: [
        ((options, next) => {
          calls.push(options.method_definition.path.split('/').pop()!);
          return next(options);
        }) as NonNullable<ConnectionOptions['interceptors']>[number],
      ],
    });
    try {
      const client = new Client({ connection });
      await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
        const request = validRequest(`ord_cost_${++orderSeq}`);
        calls.length = 0; // the connection's own GetSystemInfo
        const first = await startRefund(client, request, { taskQueue });
        expect(first).toMatchObject({ status: 'running', alreadyExisted: false });
        expect(calls).toEqual(['StartWorkflowExecution']);
        calls.length = 0;
        const again = await startRefund(client, request, { taskQueue });
        expect(again).toMatchObject({ runId: first.runId, alreadyExisted: true });
        expect(calls).toEqual(['StartWorkflowExecution', 'DescribeWorkflowExecution']);
        await env.client.workflow.getHandle(first.workflowId).result();
      });
    } finally {
      await connection.close();
    }
  });
});
