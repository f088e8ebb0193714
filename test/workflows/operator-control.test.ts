/**
 * Operators stay in control (time-skipping server, stubbed activities): Temporal's own cancellation is an abort,
 * retry means now, decisions answer the block they were made for, refused signals are recorded, and no input breaks
 * the saga.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CircleCancelState, ReconLookup, RefundActivities } from '../../src/activities';
import { startRefund } from '../../src/client';
import {
  abortUpdate,
  CirclePaymentIdKey,
  confirmReconUpdate,
  ErrorType,
  extendDeadlineSignal,
  extendDeadlineUpdate,
  NeedsAttentionKey,
  OrderIdKey,
  OVERRIDE_ACTIONS,
  RefundErrorTypeKey,
  RefundStatusKey,
  retryStepSignal,
  retryStepUpdate,
  skipStepUpdate,
  statusQuery,
  type OverrideAction,
  type SagaStatusView,
} from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { validRequest } from '../support/fixtures';
import { recordHistory } from '../support/histories';
import { counted, succeedingActivities, waitForStatus, withSagaWorker } from '../support/saga';
import { timeSkippingEnvironment } from '../support/temporal';

const MINUTE = 60_000;
type Action = OverrideAction | 'circleCancelSettled';
type Waiting = 'carbon blocked' | 'recon waiting' | 'settlement waiting';
type RefundRequestShape = ReturnType<typeof validRequest>;
const who = { operator: 'ops@example.com', reason: 'checked with the provider' };
let env: TestWorkflowEnvironment;
let orderSeq = 0;
const nextOrder = () => `ord_oc_${++orderSeq}`;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(() => env?.teardown());

const permanent = (type: string, message: string) => () =>
  Promise.reject(ApplicationFailure.create({ type, message, nonRetryable: true }));
const none = (): Promise<ReconLookup> => Promise.resolve({ kind: 'none', scanned: 1 });
const mismatch = (): Promise<ReconLookup> =>
  Promise.resolve({
    kind: 'mismatched',
    recordId: 'rev-x',
    differences: ['total: expected 12.6, found 11.6'],
    scanned: 1,
  });
const matched = (): Promise<ReconLookup> =>
  Promise.resolve({ kind: 'matched', recordId: 'rev-1', fundsDateTime: '2026-11-22T12:05:00.000Z', scanned: 1 });

async function start(taskQueue: string, request = validRequest(nextOrder()), sagaOptions = {}) {
  const started = await startRefund(env.client, request, { taskQueue, sagaOptions });
  return env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);
}

describe('Temporal cancellation is an abort', () => {
  it('ends a blocked saga aborted with the steps left listed, and clears NeedsAttention', async () => {
    const { result, attributes } = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: permanent(ErrorType.WindowClosed, 'created 25 h ago') }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        await handle.cancel();
        const result = await handle.result();
        await recordHistory('temporal-cancel-while-blocked', handle);
        return { result, attributes: (await handle.describe()).typedSearchAttributes };
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'reversed' },
      leftForManualHandling: ['carbon', 'impact', 'recon'],
    });
    expect(result.overrides).toEqual([
      expect.objectContaining({ action: 'abort', operator: 'temporal', reason: expect.stringContaining('cancel') }),
    ]);
    expect(attributes.get(NeedsAttentionKey)).toBe(false);
    expect(attributes.get(RefundStatusKey)).toBe('aborted');
  });

  it('does not wedge a saga cancelled while it waits for Circle to settle: the payment is left for manual handling', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        getCircleCancelStatus: () => Promise.resolve({ cancelId: 'cancel-1', status: 'pending' }),
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'awaiting_settlement');
        await handle.cancel();
        return handle.result();
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'left_for_manual_handling', cancelId: 'cancel-1' },
      carbon: { outcome: 'reversed' },
      leftForManualHandling: ['payment'],
    });
  });

  it('ends a saga cancelled before the pivot, with Circle showing no cancel, aborted with nothing changed', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: permanent(ErrorType.NotEligible, 'payment failed'),
        getCircleCancelStatus: () => Promise.resolve({ status: 'none', amount: { value: '12.60', currency: 'USD' } }),
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        await handle.cancel();
        return handle.result();
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'not_started' },
      leftForManualHandling: [],
    });
  });
});

describe('retry means now, and decisions answer their own block', () => {
  it('polls at once after retryStep on a recon mismatch, instead of waiting out the grown interval', async () => {
    const find = counted((call: number) => (call < 5 ? none() : call === 5 ? mismatch() : matched()));
    const { retriedAt, result } = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: find }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), { pollInitialMs: MINUTE });
        // Polls at 0, 1, 3, 7 and 15 minutes; the fifth finds the mismatch, when the next interval would be 16 minutes.
        await env.sleep(20 * MINUTE);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        const after = await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'recon', ...who }] });
        const result = await handle.result();
        await recordHistory('recon-mismatch-retried-now', handle);
        return { retriedAt: Date.parse(after.updatedAt), result };
      },
    );
    expect(find.calls).toHaveLength(6);
    expect(result.recon.outcome).toBe('reversed');
    expect(Date.parse(result.completedAt) - retriedAt).toBeLessThan(MINUTE);
  });

  it('polls Circle at once after retryStep on a settlement that failed, instead of waiting out the grown interval', async () => {
    const settle = (status: CircleCancelState['status']): Promise<CircleCancelState> =>
      Promise.resolve({ cancelId: 'cancel-1', status, amount: { value: '12.60', currency: 'USD' } });
    const read = counted((call: number) => settle(call < 5 ? 'pending' : call === 5 ? 'failed' : 'confirmed'));
    const { blocked, retriedAt, result } = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: read }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), { pollInitialMs: MINUTE });
        // Reads at 0, 1, 3, 7 and 15 minutes; the fifth finds the cancel failed, when the next interval would be 16.
        await env.sleep(20 * MINUTE);
        const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        const after = await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
        return { blocked, retriedAt: Date.parse(after.updatedAt), result: await handle.result() };
      },
    );
    expect(blocked.steps.payment).toMatchObject({ state: 'blocked', lastError: { type: ErrorType.SettlementFailed } });
    expect(read.calls).toHaveLength(6);
    expect(result).toMatchObject({ outcome: 'completed', payment: { outcome: 'reversed', settlement: 'confirmed' } });
    // The read after the retry came at once: the saga completed well before the 16 minutes were up.
    expect(Date.parse(result.completedAt) - retriedAt).toBeLessThan(MINUTE);
  });

  it('does not let an extendDeadline sent during a recon poll swallow the mismatch that poll finds', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const find = counted((call: number) => (call === 1 ? released.then(mismatch) : none()));
    await withSagaWorker(env, succeedingActivities({ findReconReversal: find }), async (taskQueue) => {
      const handle = await start(taskQueue, validRequest(nextOrder()), { pollInitialMs: MINUTE });
      await waitForStatus(handle, (s) => s.steps.recon.state === 'waiting' && find.calls.length === 1);
      await handle.executeUpdate(extendDeadlineUpdate, { args: [{ step: 'recon', duration: '1d', ...who }] });
      release();
      const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');
      expect(blocked.steps.recon.lastError?.type).toBe(ErrorType.ReconMismatch);
      expect(blocked.refusedOverrides).toEqual([
        expect.objectContaining({ action: 'extendDeadline', reason: expect.stringContaining('ReconMismatch') }),
      ]);
      await handle.terminate('test done');
    });
  });
});

describe('overrides take effect during a retrying read', () => {
  it('skips recon at once while its read is being retried through an outage, instead of after the outage bound', async () => {
    const { skippedAt, result } = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: () => Promise.reject(new Error('recon feed: 503')) }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.recon.state === 'waiting');
        const after = await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'recon', ...who }] });
        return { skippedAt: Date.parse(after.updatedAt), result: await handle.result() };
      },
    );
    expect(result).toMatchObject({ outcome: 'completed', recon: { outcome: 'skipped' } });
    // The default outage bound is an hour: the skip did not wait for the read's retries to run out.
    expect(Date.parse(result.completedAt) - skippedAt).toBeLessThan(MINUTE);
  });

  it('confirms recon at once while its read is being retried through an outage, instead of after the outage bound', async () => {
    const find = counted(() => Promise.reject(new Error('recon feed: 503')));
    const evidence = 'FIN-7: the reversal is on the bank statement of 2026-11-24';
    const { answer, confirmedAt, result } = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: find }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        // The read has failed once and waits for its next attempt: the activity is being retried, not merely scheduled.
        await waitForStatus(handle, (s) => s.steps.recon.state === 'waiting' && find.calls.length > 0);
        const answer = await handle.executeUpdate(confirmReconUpdate, { args: [{ ...who, evidence }] });
        return { answer, confirmedAt: Date.parse(answer.updatedAt), result: await handle.result() };
      },
    );
    expect(answer.steps.recon.state).toBe('succeeded');
    expect(result).toMatchObject({ outcome: 'completed', recon: { outcome: 'confirmed_by_operator', evidence } });
    // The default outage bound is an hour: the confirmation did not wait for the read's retries to run out.
    expect(Date.parse(result.completedAt) - confirmedAt).toBeLessThan(MINUTE);
  });

  it('aborts at once during a retrying read, handing recon to manual handling', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: () => Promise.reject(new Error('recon feed: 503')) }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.recon.state === 'waiting');
        await handle.executeUpdate('abort', { args: [who] });
        return handle.result();
      },
    );
    expect(result).toMatchObject({ outcome: 'aborted', leftForManualHandling: ['recon'] });
    expect(Date.parse(result.completedAt) - Date.parse(result.startedAt)).toBeLessThan(MINUTE);
  });
});

describe('an abort while a cancel is in flight', () => {
  it('says it takes effect when the call answers, and ends the saga aborted only then, with the call’s effect', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let callStarted: () => void = () => undefined;
    const calling = new Promise<void>((resolve) => (callStarted = resolve));
    let answered = false;
    // A carbon cancel that answers only when the test says so; it heartbeats meanwhile, as the real activities do.
    const carbon: RefundActivities['cancelStripeClimateOrder'] = async (input) => {
      const context = Context.current();
      callStarted();
      const beat = setInterval(() => context.heartbeat(), 500);
      try {
        await released;
      } finally {
        clearInterval(beat);
      }
      answered = true;
      return succeedingActivities().cancelStripeClimateOrder(input);
    };
    const { answer, during, execution, result } = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: carbon }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await calling;
        // Circle's settlement is read beside the carbon cancel: the abort waits for that read to be over, since the
        // time-skipping server stalls a run whose read answers while a task cancelling it runs (a real server does not).
        await waitForStatus(handle, (s) => s.steps.payment.state === 'succeeded');
        const answer = await handle.executeUpdate(abortUpdate, { args: [who] });
        // The abort was accepted, yet the saga waits for the call: still running a second later.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const during = await handle.query(statusQuery);
        const execution = (await handle.describe()).status.name;
        expect(answered).toBe(false);
        release();
        return { answer, during, execution, result: await handle.result() };
      },
    );
    const note = `abort requested by ${who.operator}; takes effect when the call in flight answers`;
    expect(answer.status).toBe('running');
    expect(answer.steps.carbon).toMatchObject({ state: 'in_progress', detail: note });
    expect(during).toMatchObject({ status: 'running', steps: { carbon: { state: 'in_progress', detail: note } } });
    expect(execution).toBe('RUNNING');
    // Ended after the call answered: its cancel is reported, and only the steps after it are left.
    expect(answered).toBe(true);
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'reversed' },
      carbon: { outcome: 'reversed', refunded: { value: '5.50', currency: 'USD' } },
      impact: { outcome: 'left_for_manual_handling' },
      leftForManualHandling: ['impact', 'recon'],
    });
  });
});

describe('an abort with nothing left', () => {
  it('ends a saga whose final recon read finds the reversal as the abort arrives completed, not aborted', async () => {
    let abortSent: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => (abortSent = resolve));
    let readStarted: () => void = () => undefined;
    const reading = new Promise<void>((resolve) => (readStarted = resolve));
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        findReconReversal: () => {
          readStarted();
          return sent.then(matched);
        },
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        // The read is running on the worker (not merely scheduled): the saga waits for its answer, which comes first.
        await reading;
        await handle.executeUpdate('abort', { args: [who] });
        abortSent();
        return handle.result();
      },
    );
    expect(result).toMatchObject({ outcome: 'completed', recon: { outcome: 'reversed' }, leftForManualHandling: [] });
  });
});

describe('no input breaks the saga', () => {
  it('records a senseless signal in the status, with the reason, instead of only a worker log line', async () => {
    await withSagaWorker(env, succeedingActivities({ findReconReversal: none }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      await handle.signal(retryStepSignal, { step: 'recon', ...who });
      const status = await waitForStatus(handle, (s) => (s.refusedOverrides?.length ?? 0) > 0);
      expect(status.refusedOverrides).toEqual([
        expect.objectContaining({
          action: 'retryStep',
          reason: expect.stringContaining('only a blocked step can be retried'),
          at: expect.any(String),
        }),
      ]);
      await handle.terminate('test done');
    });
  });

  it('shows a refused signal in the UI’s current details as plain text: no heading, no link, no table row', async () => {
    await withSagaWorker(env, succeedingActivities({ findReconReversal: none }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      // Zod names an unknown key in its message, so the key's text reaches the refusal's reason as it was sent.
      const injected =
        '\n## APPROVED BY FINANCE [open the ticket](https://evil.example/t)\n| recon | succeeded | 1 | ok |';
      await handle.signal('skipStep', { step: 'recon', ...who, [injected]: true });
      const status = await waitForStatus(handle, (s) => (s.refusedOverrides?.length ?? 0) > 0);
      expect(status.refusedOverrides?.[0]).toMatchObject({ action: 'skipStep', step: 'recon' });
      expect(status.refusedOverrides?.[0]?.reason).toContain(injected);

      // What the Temporal UI shows as the run's current details.
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      const details = metadata.currentDetails ?? '';
      expect(details).toContain('Refused or discarded overrides');
      const lines = details.split('\n');
      const refusal = lines.filter((l) => l.includes('APPROVED BY FINANCE'));
      expect(refusal).toEqual([
        expect.stringMatching(
          /^- \S+ skipStep \(recon\): invalid skipStep: .* \\#\\# APPROVED BY FINANCE \\\[open the ticket\\\]\\\(https:\/\/evil\.example\/t\\\) \\\| recon \\\| succeeded \\\| 1 \\\| ok \\\|/,
        ),
      ]);
      expect(lines.filter((l) => /^\s*#/.test(l))).toEqual([]);
      expect(details).not.toContain('[open the ticket](https://');
      // One recon row in the step table: the saga's own, still waiting.
      expect(lines.filter((l) => l.startsWith('| recon |'))).toEqual([
        expect.stringMatching(/^\| recon \| waiting \|/),
      ]);
      await handle.terminate('test done');
    });
  });

  it('refuses an extension past the saga’s horizon, as an update and as a signal, and goes on', async () => {
    await withSagaWorker(env, succeedingActivities({ findReconReversal: none }), async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      const huge = { step: 'recon' as const, duration: '100000000d', ...who };
      const err = await handle.executeUpdate(extendDeadlineUpdate, { args: [huge] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((err as WorkflowUpdateFailedError).cause as Error).message).toContain('duration');
      await handle.signal(extendDeadlineSignal, huge);
      const status = await waitForStatus(handle, (s) => (s.refusedOverrides?.length ?? 0) > 0);
      expect(status.refusedOverrides?.[0]?.reason).toContain('duration');
      await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'recon', ...who }] });
      expect((await handle.result()).outcome).toBe('completed');
    });
  });

  it('answers its status and completes whatever is thrown at its handlers, as updates and as signals', async () => {
    const text = fc.oneof(
      fc.string({ minLength: 1, maxLength: 120 }),
      fc.constantFrom('x\n## APPROVED [ok](https://e.x)', '|', '', ' ', 'a'.repeat(3000)),
    );
    const duration = fc.oneof(
      fc.integer({ min: 1, max: 7 * 86_400_000 }),
      fc.constantFrom('30m', '1d', '89d', '100000000d', '0s', '-1h', '9'.repeat(30) + 'ms'),
      fc.double(),
    );
    const step = fc.constantFrom('payment', 'carbon', 'impact', 'recon');
    const operator = fc.oneof(fc.constant('ops@example.com'), text);
    const reason = fc.oneof(fc.constant('checked'), text);
    // Each override in the shape its schema wants, with arbitrary values, so it reaches the handlers' logic and is
    // often applied; the same fields in any mix; and anything at all.
    const shaped: Record<OverrideAction, fc.Arbitrary<unknown>> = {
      retryStep: fc.record({ step, operator, reason }),
      skipStep: fc.record({ step, operator, reason, evidence: text }, { requiredKeys: ['step', 'operator', 'reason'] }),
      confirmRecon: fc.record({ operator, reason, evidence: text }),
      extendDeadline: fc.record({ step: fc.constantFrom('payment', 'recon'), duration, operator, reason }),
      abort: fc.record({ operator, reason }),
    };
    const mixed = fc.record(
      { step, operator, reason, evidence: text, duration },
      { requiredKeys: ['operator', 'reason'] },
    );
    const override = fc.constantFrom(...OVERRIDE_ACTIONS).chain((action) =>
      fc.record({
        action: fc.constant<Action>(action),
        input: fc.oneof(
          { arbitrary: shaped[action], weight: 4 },
          { arbitrary: mixed, weight: 1 },
          { arbitrary: fc.anything(), weight: 1 },
        ),
        asSignal: fc.boolean(),
      }),
    );
    // The Circle webhook's nudge, with whatever payload: a settlement read at once.
    const nudge = fc.record({
      action: fc.constant<Action>('circleCancelSettled'),
      input: fc.anything(),
      asSignal: fc.constant(true),
    });
    const message = fc.oneof({ arbitrary: override, weight: 5 }, { arbitrary: nudge, weight: 1 });
    const scenario = fc.record({
      saga: fc.constantFrom<Waiting>('carbon blocked', 'recon waiting', 'settlement waiting'),
      messages: fc.array(message, { minLength: 1, maxLength: 6 }),
    });

    // Three sagas the messages can meet: blocked on its carbon order (no impact, no recon, Circle settled at once);
    // waiting for the recon feed (reads find nothing, its deadline a week away); waiting for Circle to settle (every
    // read says pending). An extension or a nudge starts a read at once; each message is sent once the saga has taken
    // in the one before and its read has answered (see `settled`).
    const pendingPayment = '0c5e2f4a-7d1b-4e8a-9f3c-2b6d8e0a1c57';
    const sagas: Record<
      Waiting,
      { request: (run: number) => RefundRequestShape; ready: (s: SagaStatusView) => boolean }
    > = {
      'carbon blocked': {
        request: (run) => ({
          ...validRequest(`ord_oc_prop_${run}`),
          carbon: { provider: 'stripe_climate', orderId: `climorder_prop${run}blocked` },
          impact: null,
          recon: null,
        }),
        ready: (s) => s.status === 'needs_attention' && s.steps.payment.state === 'succeeded',
      },
      'recon waiting': {
        request: (run) => validRequest(`ord_oc_prop_${run}`),
        ready: (s) =>
          s.status === 'awaiting_recon' &&
          Boolean(s.steps.recon.deadline) &&
          (s.steps.recon.detail ?? '').startsWith('no reversal yet'),
      },
      'settlement waiting': {
        request: (run) => ({
          ...validRequest(`ord_oc_prop_${run}`),
          payment: { provider: 'circle', paymentId: pendingPayment },
          impact: null,
          recon: null,
        }),
        ready: (s) =>
          s.status === 'awaiting_settlement' &&
          Boolean(s.steps.payment.deadline) &&
          (s.steps.payment.detail ?? '').includes('waiting for Circle'),
      },
    };
    const activities = succeedingActivities({
      cancelStripeClimateOrder: (input) =>
        input.orderId.endsWith('blocked')
          ? permanent(ErrorType.WindowClosed, 'created 25 h ago')()
          : succeedingActivities().cancelStripeClimateOrder(input),
      getCircleCancelStatus: (input) =>
        input.paymentId === pendingPayment
          ? Promise.resolve({ cancelId: 'cancel-1', status: 'pending' })
          : succeedingActivities().getCircleCancelStatus(input),
      findReconReversal: none,
    });

    // Overrides applied, by saga, action and how they came: the waiting sagas must have applied extendDeadline,
    // confirmRecon and skipStep, or this test would only show that senseless overrides are refused.
    const applied = new Map<string, number>();
    const count = (key: string, n: number) => applied.set(key, (applied.get(key) ?? 0) + n);
    const extend = (step: 'payment' | 'recon', duration: number | string) => ({ step, duration, ...who });
    const send = (action: Action, input: unknown, asSignal: boolean) => ({ action, input, asSignal });
    const examples: Array<[{ saga: Waiting; messages: Array<ReturnType<typeof send>> }]> = [
      // The inputs that broke sagas (or this test) before: a message after the skip that let the saga finish; an
      // extension past any date, as a signal; markdown in the evidence.
      [
        {
          saga: 'carbon blocked',
          messages: [
            send('skipStep', { step: 'carbon', ...who }, false),
            send('retryStep', { step: 'carbon', ...who }, false),
            send('abort', who, true),
          ],
        },
      ],
      [
        {
          saga: 'carbon blocked',
          messages: [
            send('extendDeadline', extend('recon', '100000000d'), true),
            send('skipStep', { step: 'carbon', evidence: 'x\n## APPROVED [ok](https://e.x)', ...who }, false),
          ],
        },
      ],
      // Every override a waiting saga applies, as update and as signal, at least once whatever is generated.
      [
        {
          saga: 'recon waiting',
          messages: [
            // Past the saga's horizon: refused by the schema, before it could break the date arithmetic.
            send('extendDeadline', extend('recon', '100000000d'), true),
            send('extendDeadline', extend('recon', '100000000d'), false),
            send('extendDeadline', extend('recon', '2d'), false),
            send('extendDeadline', extend('recon', 3_600_000), true),
            send('confirmRecon', { ...who, evidence: 'x\n## APPROVED [ok](https://e.x)' }, false),
          ],
        },
      ],
      [
        {
          saga: 'recon waiting',
          messages: [
            send('circleCancelSettled', { paymentId: 42 }, true),
            send('confirmRecon', { ...who, evidence: 'FIN-7' }, true),
          ],
        },
      ],
      [
        {
          saga: 'recon waiting',
          messages: [
            send('extendDeadline', extend('recon', '89d'), true),
            send('skipStep', { step: 'recon', ...who }, false),
          ],
        },
      ],
      [{ saga: 'recon waiting', messages: [send('skipStep', { step: 'recon', evidence: '|', ...who }, true)] }],
      [
        {
          saga: 'settlement waiting',
          messages: [
            send('extendDeadline', extend('payment', '1d'), false),
            send('circleCancelSettled', null, true),
            send('skipStep', { step: 'payment', ...who }, true),
          ],
        },
      ],
      [
        {
          saga: 'settlement waiting',
          messages: [
            send('extendDeadline', extend('payment', 1), true),
            send('skipStep', { step: 'payment', ...who }, false),
          ],
        },
      ],
    ];
    let run = 0;
    await withSagaWorker(env, activities, async (taskQueue) => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ saga, messages }) => {
          const request = sagas[saga].request(++run);
          const handle = await start(taskQueue, request);
          await waitForStatus(handle, sagas[saga].ready);
          await settled(handle);
          const accepted = new Map<string, number>();
          for (const { action, input: arg, asSignal } of messages) {
            const sent = asSignal
              ? handle.signal(action, arg)
              : handle.executeUpdate(action, { args: [arg] }).then(() => {
                  accepted.set(action, (accepted.get(action) ?? 0) + 1);
                });
            const err = await sent.then(
              () => undefined,
              (e: unknown) => e,
            );
            // An earlier message may have resolved the block and let the saga finish: the server then refuses
            // the message itself, and only because the run has closed.
            if (err instanceof WorkflowNotFoundError) {
              expect((await handle.describe()).status.name).toBe('COMPLETED');
              break;
            }
            // Refused with a reason, or accepted: never a failed workflow task or a timeout.
            if (err) expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
            await settled(handle);
            expect((await handle.query(statusQuery)).orderId).toBe(request.orderId);
          }
          const status = await handle.query(statusQuery);
          expect(status.orderId).toBe(request.orderId);
          if (status.status !== 'completed' && status.status !== 'aborted') {
            await handle.executeUpdate(abortUpdate, { args: [who] }).then(
              () => accepted.set('cleanup', 1),
              () => undefined,
            );
          }
          const result = await handle.result();
          expect(['completed', 'aborted']).toContain(result.outcome);
          // No handler threw: every workflow task completed (a task that raced a message the server had just taken,
          // and was refused for it, is Temporal's own and is retried at once).
          const failed = ((await handle.fetchHistory()).events ?? []).filter(
            (e) =>
              e.workflowTaskFailedEventAttributes &&
              e.workflowTaskFailedEventAttributes.cause !==
                temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
          );
          expect(failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message)).toEqual([]);
          for (const action of OVERRIDE_ACTIONS) {
            const all = result.overrides.filter((o) => o.action === action).length;
            const byUpdate = accepted.get(action) ?? 0;
            // The cleanup abort above is no message of the test's.
            const cleanup = action === 'abort' ? (accepted.get('cleanup') ?? 0) : 0;
            count(`${saga}: ${action} as update`, byUpdate);
            count(`${saga}: ${action} as signal`, all - byUpdate - cleanup);
          }
        }),
        { numRuns: 48, examples },
      );
    });
    const wanted = [
      ...['extendDeadline', 'confirmRecon', 'skipStep'].map((a) => `recon waiting: ${a}`),
      ...['extendDeadline', 'skipStep'].map((a) => `settlement waiting: ${a}`),
    ].flatMap((key) => [`${key} as update`, `${key} as signal`]);
    expect(wanted.filter((key) => !applied.get(key))).toEqual([]);
  }, 240_000);
});

/**
 * Waits until the saga has taken in everything sent to it: no workflow task due and no activity in flight (or the run
 * has closed). The time-skipping server cannot take a read's cancellation when the read answered while the workflow
 * task that cancels it ran (it refuses the task's completion with ACTIVITY_UNKNOWN and the run stalls); a real server
 * records the cancel request and goes on. So messages that may cut a read short are sent when no read is in flight.
 */
async function settled(handle: WorkflowHandle): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const closed = events.some(
      (e) =>
        e.workflowExecutionCompletedEventAttributes ||
        e.workflowExecutionFailedEventAttributes ||
        e.workflowExecutionTerminatedEventAttributes ||
        e.workflowExecutionCanceledEventAttributes ||
        e.workflowExecutionTimedOutEventAttributes,
    );
    let taskDue = false;
    for (let i = events.length - 1; i >= 0 && !events[i]!.workflowTaskCompletedEventAttributes; i--) {
      if (events[i]!.workflowTaskScheduledEventAttributes) taskDue = true;
    }
    const inFlight = new Set<string>();
    for (const e of events) {
      if (e.activityTaskScheduledEventAttributes) inFlight.add(String(e.eventId));
      const ended =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes ??
        e.activityTaskCanceledEventAttributes;
      if (ended) inFlight.delete(String(ended.scheduledEventId));
    }
    if (closed || (!taskDue && inFlight.size === 0)) return;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not settle in 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('search attributes come from the workflow itself', () => {
  it('keeps RefundErrorType current: the blocked step’s error type, then none', async () => {
    await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: permanent(ErrorType.WindowClosed, 'created 25 h ago') }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        expect((await handle.describe()).typedSearchAttributes.get(RefundErrorTypeKey)).toBe(ErrorType.WindowClosed);
        await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'carbon', ...who }] });
        await handle.result();
        await recordHistory('error-type-attribute-blocked-then-skipped', handle);
        expect((await handle.describe()).typedSearchAttributes.get(RefundErrorTypeKey)).toBe('none');
      },
    );
  });

  it('sets every search attribute on its first task when started without them (temporal workflow start, another SDK)', async () => {
    await withSagaWorker(env, succeedingActivities({ findReconReversal: none }), async (taskQueue) => {
      const request = validRequest(nextOrder());
      const handle = await env.client.workflow.start('refundSaga', {
        taskQueue,
        workflowId: `refund-${request.orderId}`,
        args: [{ request }],
      });
      await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
      const attributes = (await handle.describe()).typedSearchAttributes;
      expect(attributes.get(CirclePaymentIdKey)).toBe(request.payment.paymentId);
      expect(attributes.get(OrderIdKey)).toBe(request.orderId);
      expect(attributes.get(RefundStatusKey)).toBe('awaiting_recon');
      await handle.terminate('test done');
    });
  });
});
