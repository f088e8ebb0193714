/**
 * Vouched overrides (dev server, stubbed provider activities, the real `verifyOverride`): a worker that holds vouching
 * keys applies only overrides the API vouched for, once each; a worker without keys applies every override. On the dev
 * server, not the time-skipping one: the Java test server drops a signal's header, so every signal reaches the saga
 * unvouched there (refused by a worker with keys, as it should be; but a vouched signal could not be shown applied).
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  WorkflowUpdateFailedError,
  type WorkflowClientInterceptor,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconLookup } from '../../src/activities';
import { overrideVerificationActivities } from '../../src/activities/verify-override';
import { startRefund } from '../../src/client';
import {
  ErrorType,
  extendDeadlineSignal,
  extendDeadlineUpdate,
  skipStepSignal,
  skipStepUpdate,
  statusQuery,
  type SagaStatusView,
} from '../../src/domain';
import { generateVouchKey, VOUCH_HEADER, vouchInterceptor, type VouchKey } from '../../src/security/vouch';
import type { refundSaga } from '../../src/workflows';
import { UNVOUCHED } from '../../src/workflows/override-vouch';
import { validRequest } from '../support/fixtures';
import { recordHistory } from '../support/histories';
import { succeedingActivities, waitForStatus, withSagaWorker } from '../support/saga';
import { devServerEnvironment } from '../support/temporal';

const who = { operator: 'ops@example.com', reason: 'refunded in the Stripe dashboard' };
const current = generateVouchKey('vouch-2');
const retired = generateVouchKey('vouch-1');
let env: TestWorkflowEnvironment;
let namespace: string;
let orderSeq = 0;
const run = randomUUID().slice(0, 8);
const nextOrder = () => `ord_vouch_${run}_${++orderSeq}`;

beforeAll(async () => {
  env = await devServerEnvironment();
  namespace = env.namespace ?? 'default';
});
afterAll(() => env?.teardown());

const windowClosed = () =>
  Promise.reject(
    ApplicationFailure.create({ type: ErrorType.WindowClosed, message: 'created 25 h ago', nonRetryable: true }),
  );
const none = (): Promise<ReconLookup> => Promise.resolve({ kind: 'none', scanned: 1 });
/** Carbon blocks, and recon never finds its reversal: a skip of carbon cannot let the saga end before the test does. */
const carbonBlockedReconPending = { cancelStripeClimateOrder: windowClosed, findReconReversal: none };

/** The provider steps succeed but for `changes`; overrides are checked against `keys` by the real activity. */
const activitiesWithKeys = (keys: VouchKey[], changes: Parameters<typeof succeedingActivities>[0] = {}) =>
  succeedingActivities({ ...changes, ...overrideVerificationActivities(keys) });

/** A client on the test server with these workflow interceptors (the API's, with `vouchInterceptor`). */
const clientWith = (...interceptors: WorkflowClientInterceptor[]) =>
  new Client({ connection: env.connection, namespace, interceptors: { workflow: interceptors } });
const vouchingClient = (keys: VouchKey[], now?: () => Date) => clientWith(vouchInterceptor(keys, { namespace, now }));

/** A client that sends `header` as the vouch of every update and signal: someone who copied one. */
const copyingClient = (header: Payload) => {
  const withHeader = <I extends { headers: Record<string, Payload> }>(input: I): I => ({
    ...input,
    headers: { ...input.headers, [VOUCH_HEADER]: header },
  });
  return clientWith({
    startUpdate: (input, next) => next(withHeader(input)),
    signal: (input, next) => next(withHeader(input)),
  });
};

async function start(taskQueue: string) {
  const started = await startRefund(env.client, validRequest(nextOrder()), { taskQueue });
  return env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);
}

const handleOn = (client: Client, handle: WorkflowHandle) =>
  client.workflow.getHandle<typeof refundSaga>(handle.workflowId);

/** The update's failure, expected to be the saga's `Unvouched`. */
async function unvouched(sending: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await sending.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(UNVOUCHED);
  return cause as ApplicationFailure;
}

/** What an override must not change: the steps' states, and the overrides applied. */
const essentials = (s: SagaStatusView) => ({
  states: Object.fromEntries(Object.entries(s.steps).map(([step, { state }]) => [step, state])),
  overrides: s.overrides,
});

describe('a worker with vouching keys', () => {
  it('refuses an update sent without a vouch as Unvouched and changes nothing; the same through the API’s interceptor is applied', async () => {
    await withSagaWorker(env, activitiesWithKeys([current], carbonBlockedReconPending), async (taskQueue) => {
      const handle = await start(taskQueue);
      const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');

      const failure = await unvouched(handle.executeUpdate(skipStepUpdate, { args: [{ step: 'carbon', ...who }] }));
      expect(failure.message).toMatch(/not vouched for \(no vouch header\); send overrides through the HTTP API/);
      expect(essentials(await handle.query(statusQuery))).toEqual(essentials(blocked));

      const answer = await handleOn(vouchingClient([current]), handle).executeUpdate(skipStepUpdate, {
        args: [{ step: 'carbon', ...who }],
      });
      expect(answer.steps.carbon.state).toBe('skipped');
      expect(answer.overrides).toEqual([
        expect.objectContaining({ action: 'skipStep', step: 'carbon', operator: who.operator, reason: who.reason }),
      ]);
      await handle.terminate('test done');
    });
  });

  it('applies a signal sent through the API’s interceptor', async () => {
    await withSagaWorker(env, activitiesWithKeys([current], carbonBlockedReconPending), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'needs_attention');
      await handleOn(vouchingClient([current]), handle).signal(skipStepSignal, { step: 'carbon', ...who });
      const status = await waitForStatus(handle, (s) => s.overrides.length > 0);
      expect(status.overrides).toEqual([expect.objectContaining({ action: 'skipStep', operator: who.operator })]);
      expect(status.refusedOverrides).toEqual([]);
      await handle.terminate('test done');
    });
  });

  it('ignores a signal without a vouch and records it as refused; a vouched update then applies (recorded history)', async () => {
    const result = await withSagaWorker(
      env,
      activitiesWithKeys([current], { cancelStripeClimateOrder: windowClosed }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        await handle.signal(skipStepSignal, { step: 'carbon', ...who });
        const refused = await waitForStatus(handle, (s) => (s.refusedOverrides ?? []).length > 0);
        expect(refused.refusedOverrides).toEqual([
          expect.objectContaining({ action: 'skipStep', step: 'carbon', reason: 'not vouched for: no vouch header' }),
        ]);
        expect(essentials(refused)).toEqual(essentials(blocked));

        await handleOn(vouchingClient([current]), handle).executeUpdate(skipStepUpdate, {
          args: [{ step: 'carbon', ...who }],
        });
        const result = await handle.result();
        await recordHistory('override-vouch-activity-update-applied-signal-refused', handle);
        return result;
      },
    );
    expect(result).toMatchObject({ outcome: 'completed', carbon: { outcome: 'skipped' } });
    expect(result.overrides).toEqual([expect.objectContaining({ action: 'skipStep', operator: who.operator })]);
  });

  it('refuses a vouch copied onto another reason, or sent a second time, as an update or as a signal', async () => {
    await withSagaWorker(env, activitiesWithKeys([current], { findReconReversal: none }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      let copied: Payload | undefined;
      const capturing: WorkflowClientInterceptor = {
        startUpdate: (input, next) => {
          copied = input.headers[VOUCH_HEADER];
          return next(input);
        },
      };
      const extend = { step: 'recon' as const, duration: '1d', ...who };
      const vouched = clientWith(vouchInterceptor([current], { namespace }), capturing);
      const applied = await handleOn(vouched, handle).executeUpdate(extendDeadlineUpdate, { args: [extend] });
      expect(applied.overrides).toHaveLength(1);
      expect(copied).toBeDefined();

      const copier = handleOn(copyingClient(copied!), handle);
      const otherReason = await unvouched(
        copier.executeUpdate(extendDeadlineUpdate, { args: [{ ...extend, reason: 'a forged reason' }] }),
      );
      expect(otherReason.message).toMatch(/not vouched for \(bad mac/);
      const again = await unvouched(copier.executeUpdate(extendDeadlineUpdate, { args: [extend] }));
      expect(again.message).toMatch(/not vouched for \(this vouch was already used/);

      await copier.signal(extendDeadlineSignal, extend);
      const status = await waitForStatus(handle, (s) => (s.refusedOverrides ?? []).length > 0);
      expect(status.refusedOverrides).toEqual([
        expect.objectContaining({
          action: 'extendDeadline',
          reason: expect.stringMatching(/^not vouched for: this vouch was already used/),
        }),
      ]);
      expect(status.overrides).toEqual(applied.overrides);
      expect(status.steps.recon.deadline).toBe(applied.steps.recon.deadline);
      await handle.terminate('test done');
    });
  });

  it('refuses a vouch issued more than 10 minutes ago', async () => {
    await withSagaWorker(env, activitiesWithKeys([current], carbonBlockedReconPending), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'needs_attention');
      const stale = vouchingClient([current], () => new Date(Date.now() - 11 * 60_000));
      const failure = await unvouched(
        handleOn(stale, handle).executeUpdate(skipStepUpdate, { args: [{ step: 'carbon', ...who }] }),
      );
      expect(failure.message).toMatch(/not vouched for \(stale: /);
      await handle.terminate('test done');
    });
  });

  it('refuses a vouch made with a key rotated out of the worker’s list, and accepts it while the old key is still listed', async () => {
    const oldKeyClient = vouchingClient([retired]);
    const skipWithOldKey = async (workerKeys: VouchKey[]) =>
      withSagaWorker(env, activitiesWithKeys(workerKeys, carbonBlockedReconPending), async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        try {
          return await handleOn(oldKeyClient, handle).executeUpdate(skipStepUpdate, {
            args: [{ step: 'carbon', ...who }],
          });
        } finally {
          await handle.terminate('test done');
        }
      });

    const failure = await unvouched(skipWithOldKey([current]));
    expect(failure.message).toMatch(/not vouched for \(unknown key id "vouch-1"/);
    const answer = await skipWithOldKey([current, retired]);
    expect(answer.steps.carbon.state).toBe('skipped');
  });
});

describe('a worker without vouching keys', () => {
  it('applies overrides sent without a vouch, as updates and as signals, as before', async () => {
    await withSagaWorker(env, activitiesWithKeys([], { findReconReversal: none }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      const extend = { step: 'recon' as const, duration: '1d', ...who };
      const answer = await handle.executeUpdate(extendDeadlineUpdate, { args: [extend] });
      expect(answer.overrides).toHaveLength(1);
      await handle.signal(extendDeadlineSignal, extend);
      const status = await waitForStatus(handle, (s) => s.overrides.length === 2);
      expect(status.refusedOverrides).toEqual([]);
      // A vouched one too, whatever key made it.
      await handleOn(vouchingClient([retired]), handle).executeUpdate(extendDeadlineUpdate, { args: [extend] });
      expect((await handle.query(statusQuery)).overrides).toHaveLength(3);
      await handle.terminate('test done');
    });
  });
});
