import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRefund, getRefundStatus } from '../../src/client';
import {
  abortUpdate,
  circleCancelSettledSignal,
  confirmReconUpdate,
  ErrorType,
  extendDeadlineUpdate,
  retryStepSignal,
  retryStepUpdate,
  skipStepSignal,
  skipStepUpdate,
  statusQuery,
} from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { validRequest } from '../support/fixtures';
import { recordHistory } from '../support/histories';
import { counted, succeedingActivities, waitForStatus, withSagaWorker } from '../support/saga';
import { timeSkippingEnvironment } from '../support/temporal';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const who = { operator: 'ops@example.com', reason: 'checked with the provider' };
let env: TestWorkflowEnvironment;
let orderSeq = 0;
const nextOrder = () => `ord_ts_${++orderSeq}`;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(() => env?.teardown());

function permanent(type: string, message: string) {
  return () =>
    Promise.reject(
      ApplicationFailure.create({
        type,
        message,
        nonRetryable: true,
        details: [{ provider: 'test', status: 400, requestId: 'req_1' }],
      }),
    );
}

async function start(taskQueue: string, request = validRequest(nextOrder()), sagaOptions = {}) {
  const started = await startRefund(env.client, request, { taskQueue, sagaOptions });
  return { started, handle: env.client.workflow.getHandle<typeof refundSaga>(started.workflowId) };
}

describe('refundSaga (time-skipping, stubbed activities)', () => {
  it('reverses everything via Stripe Climate and reports amounts, fees and the recon record', async () => {
    const result = await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const { handle } = await start(taskQueue);
      const result = await handle.result();
      await recordHistory('happy-path-stripe-climate', handle);
      return result;
    });
    expect(result).toMatchObject({
      outcome: 'completed',
      payment: {
        outcome: 'reversed',
        cancelId: 'cancel-1',
        settlement: 'confirmed',
        amount: { value: '12.60', currency: 'USD' },
      },
      carbon: {
        outcome: 'reversed',
        provider: 'stripe_climate',
        refunded: { value: '5.50' },
        feesNotRefunded: { value: '0.17' },
        tonnes: '0.01',
      },
      impact: { outcome: 'reversed', reversed: { trees: 10 }, cancelledOn: '2026-11-22T12:00:00.000Z' },
      recon: { outcome: 'reversed', recordId: 'rev-1' },
      leftForManualHandling: [],
      overrides: [],
    });
  });

  it('reverses a SQUAKE purchase when the order used SQUAKE, never calling Stripe', async () => {
    const stripe = counted(() => Promise.reject(new Error('must not be called')));
    const request = {
      ...validRequest(nextOrder()),
      carbon: { provider: 'squake' as const, purchaseId: 'purchase_sd234asdfl23' },
    };
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: stripe }),
      async (taskQueue) => (await start(taskQueue, request)).handle.result(),
    );
    expect(result.carbon).toMatchObject({
      outcome: 'reversed',
      provider: 'squake',
      resourceId: 'purchase_sd234asdfl23',
      tonnes: '0.5',
    });
    expect(stripe.calls).toHaveLength(0);
  });

  it('marks absent carbon, impact and recon parts not applicable and completes after the payment', async () => {
    const request = { ...validRequest(nextOrder()), carbon: null, impact: null, recon: null };
    const result = await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const { handle } = await start(taskQueue, request);
      const result = await handle.result();
      expect((await handle.query(statusQuery)).steps).toMatchObject({
        payment: { state: 'succeeded' },
        carbon: { state: 'not_applicable' },
        impact: { state: 'not_applicable' },
        recon: { state: 'not_applicable' },
      });
      return result;
    });
    expect(result).toMatchObject({
      outcome: 'completed',
      carbon: { outcome: 'not_applicable' },
      recon: { outcome: 'not_applicable' },
    });
  });

  it('polls a Circle cancel that stays pending for hours on durable timers until it settles', async () => {
    const status = counted((call: number) =>
      Promise.resolve({ cancelId: 'cancel-1', status: call <= 8 ? ('pending' as const) : ('paid' as const) }),
    );
    const { result, history } = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: status }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        const result = await handle.result();
        await recordHistory('circle-pending-for-hours', handle);
        return { result, history: await handle.fetchHistory() };
      },
    );
    expect(result.payment).toMatchObject({ outcome: 'reversed', settlement: 'paid' });
    expect(status.calls).toHaveLength(9);
    // 1 + 2 + 4 + … + 128 minutes of doubling timers: more than four hours of workflow time.
    expect(Date.parse(result.completedAt) - Date.parse(result.startedAt)).toBeGreaterThanOrEqual(4 * HOUR);
    const summaries = history
      .events!.filter((e) => e.timerStartedEventAttributes)
      .map((e) => e.userMetadata?.summary?.data);
    expect(summaries.length).toBeGreaterThanOrEqual(8);
  });

  it('ends the settlement wait early when the Circle webhook signal arrives', async () => {
    let settled = false;
    const status = () =>
      Promise.resolve({ cancelId: 'cancel-1', status: settled ? ('confirmed' as const) : ('pending' as const) });
    const result = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: status }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue, validRequest(nextOrder()), { pollInitialMs: 6 * HOUR });
        await waitForStatus(handle, (s) => s.status === 'awaiting_settlement');
        settled = true;
        await handle.signal(circleCancelSettledSignal, { paymentId: 'b8627ae8-732b-4d25-b947-1df8f4007a29' });
        return handle.result();
      },
    );
    expect(result.payment.settlement).toBe('confirmed');
    expect(Date.parse(result.completedAt) - Date.parse(result.startedAt)).toBeLessThan(HOUR);
  });

  it('blocks on a closed Stripe window, needs attention, and completes once an operator skips the step', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: permanent(ErrorType.WindowClosed, 'created 25 h ago') }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        const blocked = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        expect(blocked.steps.carbon).toMatchObject({
          state: 'blocked',
          lastError: {
            type: ErrorType.WindowClosed,
            message: 'created 25 h ago',
            provider: 'test',
            status: 400,
            requestId: 'req_1',
          },
        });
        const after = await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'carbon', evidence: 'refunded in the Stripe dashboard', ...who }],
        });
        expect(after.overrides).toEqual([{ action: 'skipStep', step: 'carbon', at: expect.any(String), ...who }]);
        const result = await handle.result();
        await recordHistory('stripe-window-closed-then-skipped', handle);
        return result;
      },
    );
    expect(result).toMatchObject({
      outcome: 'completed',
      carbon: { outcome: 'skipped' },
      impact: { outcome: 'reversed' },
    });
  });

  it('blocks on a SQUAKE purchase that is already confirmed', async () => {
    await withSagaWorker(
      env,
      succeedingActivities({ cancelSquakePurchase: permanent(ErrorType.WindowClosed, 'purchase is confirmed') }),
      async (taskQueue) => {
        const request = {
          ...validRequest(nextOrder()),
          carbon: { provider: 'squake' as const, purchaseId: 'purchase_confirmed1' },
        };
        const { handle } = await start(taskQueue, request);
        const status = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        expect(status.steps.carbon.lastError?.type).toBe(ErrorType.WindowClosed);
        expect(status.steps.impact.state).toBe('pending');
        await handle.executeUpdate(abortUpdate, { args: [who] });
        await handle.result();
      },
    );
  });

  it('counts an impact that was already cancelled as reversed', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelImpact: () =>
          Promise.resolve({
            outcome: 'already_reversed',
            cancelledOn: '2026-01-01T00:00:00.000Z',
            reversed: { trees: 10 },
          }),
      }),
      async (taskQueue) => (await start(taskQueue)).handle.result(),
    );
    expect(result.impact).toMatchObject({ outcome: 'already_reversed', cancelledOn: '2026-01-01T00:00:00.000Z' });
    expect(result.outcome).toBe('completed');
  });

  it('waits days for the recon reversal, which appears on day 3', async () => {
    const findReconReversal = async () => {
      const { currentAttemptScheduledTimestampMs: now, workflowExecution } = Context.current().info;
      const started = (
        await env.client.workflow.getHandle(workflowExecution!.workflowId).describe()
      ).startTime.getTime();
      return now - started >= 3 * DAY
        ? { kind: 'matched' as const, recordId: 'rev-day3', fundsDateTime: new Date(now).toISOString(), scanned: 40 }
        : { kind: 'none' as const, scanned: 40 };
    };
    const { result, events } = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        const result = await handle.result();
        await recordHistory('recon-reversal-on-day-3', handle);
        return { result, events: (await handle.fetchHistory()).events!.length };
      },
    );
    expect(result.recon).toMatchObject({ outcome: 'reversed', recordId: 'rev-day3' });
    const waited = Date.parse(result.completedAt) - Date.parse(result.startedAt);
    expect(waited).toBeGreaterThanOrEqual(3 * DAY);
    expect(waited).toBeLessThan(4 * DAY);
    expect(events).toBeLessThan(400);
  });

  it('blocks on a recon mismatch until an operator confirms recon with evidence', async () => {
    const mismatch = () =>
      Promise.resolve({
        kind: 'mismatched' as const,
        recordId: 'rev-x',
        differences: ['total: expected 12.6, found 11.6'],
        scanned: 5,
      });
    const result = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: mismatch }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        const status = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        expect(status.steps.recon.lastError).toMatchObject({
          type: ErrorType.ReconMismatch,
          message: expect.stringContaining('total: expected 12.6'),
        });
        await handle.executeUpdate(confirmReconUpdate, { args: [{ evidence: 'finance ticket FIN-42', ...who }] });
        const result = await handle.result();
        await recordHistory('recon-mismatch-confirmed', handle);
        return result;
      },
    );
    expect(result.recon).toMatchObject({ outcome: 'confirmed_by_operator', evidence: 'finance ticket FIN-42' });
  });

  it('blocks when no reversal appears before the 7-day deadline, and an extension gives it more time', async () => {
    const { result, events } = await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: () => Promise.resolve({ kind: 'none', scanned: 100 }) }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
        await env.sleep(7 * DAY + HOUR);
        const status = await waitForStatus(handle, (s) => s.status === 'needs_attention');
        expect(status.steps.recon.lastError?.type).toBe(ErrorType.DeadlinePassed);
        await handle.executeUpdate(extendDeadlineUpdate, { args: [{ step: 'recon', duration: '1d', ...who }] });
        expect((await handle.query(statusQuery)).status).toBe('awaiting_recon');
        await env.sleep(DAY + HOUR);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        await handle.executeUpdate(confirmReconUpdate, { args: [{ evidence: 'seen in the finance export', ...who }] });
        const result = await handle.result();
        await recordHistory('recon-deadline-extended-then-confirmed', handle);
        return { result, events: (await handle.fetchHistory()).events!.length };
      },
    );
    expect(result.recon.outcome).toBe('confirmed_by_operator');
    expect(result.overrides.map((o) => o.action)).toEqual(['extendDeadline', 'confirmRecon']);
    // Bounded history: intervals double up to 6 h, so 8 days of waiting are ~40 polls of ~12 events each.
    expect(events).toBeLessThan(600);
  });

  it('retries transient provider failures inside the activity and succeeds without operator help', async () => {
    const cancel = counted((call: number) =>
      call < 3
        ? Promise.reject(
            ApplicationFailure.create({
              type: 'ProviderUnavailableError',
              message: '503 from Stripe',
              nextRetryDelay: '1s',
            }),
          )
        : succeedingActivities().cancelStripeClimateOrder({ orderId: 'x', idempotencyKey: 'k' }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: cancel }),
      async (taskQueue) => (await start(taskQueue)).handle.result(),
    );
    expect(cancel.calls).toHaveLength(3);
    expect(result.carbon.outcome).toBe('reversed');
    expect(result.overrides).toEqual([]);
  });

  it('passes the same derived idempotency key on every attempt, and different keys per step', async () => {
    const circle = counted((call: number, _input: { paymentId: string; idempotencyKey: string }) =>
      call < 2
        ? Promise.reject(new Error('connection reset'))
        : Promise.resolve({ cancelId: 'c', status: 'confirmed' as const }),
    );
    const stripe = counted((_call: number, _input: { orderId: string; idempotencyKey: string }) =>
      succeedingActivities().cancelStripeClimateOrder(_input),
    );
    await withSagaWorker(
      env,
      succeedingActivities({ cancelCirclePayment: circle, cancelStripeClimateOrder: stripe }),
      async (taskQueue) => (await start(taskQueue, validRequest('ord_keys'))).handle.result(),
    );
    const keys = circle.calls.map(([input]) => input.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stripe.calls[0]![0].idempotencyKey).toBe('refund-ord_keys:carbon:1');
  });

  it('escalates a long outage to needs attention after the configured bound, and an operator retry recovers', async () => {
    let outage = true;
    const cancelImpact = () =>
      outage
        ? Promise.reject(new Error('ECONNREFUSED'))
        : succeedingActivities().cancelImpact({ userId: 'U1', timeUtc: 't' });
    const result = await withSagaWorker(env, succeedingActivities({ cancelImpact }), async (taskQueue) => {
      const { handle } = await start(taskQueue, validRequest(nextOrder()), { outageEscalationMs: 10 * 60_000 });
      await waitForStatus(handle, (s) => s.steps.impact.state === 'in_progress');
      await env.sleep(15 * 60_000);
      const status = await waitForStatus(handle, (s) => s.status === 'needs_attention');
      expect(status.steps.impact.lastError).toMatchObject({
        type: ErrorType.ProviderOutage,
        message: expect.stringContaining('ECONNREFUSED'),
      });
      outage = false;
      await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'impact', ...who }] });
      const result = await handle.result();
      await recordHistory('outage-escalated-then-retried', handle);
      return result;
    });
    expect(result.impact.outcome).toBe('reversed');
    expect(result.overrides.map((o) => o.action)).toEqual(['retryStep']);
  });

  it('aborts before the pivot without touching any other provider', async () => {
    const stripe = counted(() => Promise.reject(new Error('must not be called')));
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: permanent(ErrorType.NotEligible, 'payment failed'),
        // Circle, read after the refusal, shows no cancel: the abort changes nothing.
        getCircleCancelStatus: () => Promise.resolve({ status: 'none', amount: { value: '12.60', currency: 'USD' } }),
        cancelStripeClimateOrder: stripe,
      }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.payment.state === 'blocked');
        await handle.executeUpdate(abortUpdate, { args: [who] });
        return handle.result();
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'not_started' },
      carbon: { outcome: 'not_started' },
      leftForManualHandling: [],
    });
    expect(stripe.calls).toHaveLength(0);
  });

  it('aborts after the pivot, listing the steps left to manual handling', async () => {
    const impact = counted(() => Promise.reject(new Error('must not be called')));
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelStripeClimateOrder: permanent(ErrorType.WindowClosed, 'too late'),
        cancelImpact: impact,
      }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.carbon.state === 'blocked');
        await handle.executeUpdate(abortUpdate, { args: [who] });
        const result = await handle.result();
        await recordHistory('abort-after-pivot', handle);
        return result;
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'reversed' },
      leftForManualHandling: ['carbon', 'impact', 'recon'],
    });
    expect(impact.calls).toHaveLength(0);
  });

  it('rejects every override that makes no sense now, with a reason, and records none of them', async () => {
    await withSagaWorker(
      env,
      succeedingActivities({ findReconReversal: () => Promise.resolve({ kind: 'none', scanned: 0 }) }),
      async (taskQueue) => {
        const { handle } = await start(taskQueue);
        await waitForStatus(handle, (s) => s.status === 'awaiting_recon');
        const rejected = async (update: { name: string }, arg: unknown) => {
          const err = await handle.executeUpdate(update.name, { args: [arg] }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
          return ((err as WorkflowUpdateFailedError).cause as Error).message;
        };
        expect(await rejected(retryStepUpdate, { step: 'recon', ...who })).toContain(
          'only a blocked step can be retried',
        );
        expect(await rejected(skipStepUpdate, { step: 'payment', ...who })).toContain('step payment is succeeded');
        expect(await rejected(extendDeadlineUpdate, { step: 'carbon', duration: '1d', ...who })).toContain(
          'must be "payment" or "recon"',
        );
        expect(await rejected(extendDeadlineUpdate, { step: 'recon', duration: 'soon', ...who })).toContain('duration');
        expect(await rejected(abortUpdate, { reason: 'no operator' })).toContain('operator');
        expect((await handle.query(statusQuery)).overrides).toEqual([]);

        await handle.executeUpdate(skipStepUpdate, { args: [{ step: 'recon', ...who }] });
        await handle.result();
        const afterEnd = await handle.executeUpdate(abortUpdate, { args: [who] }).catch((e: unknown) => e);
        expect(afterEnd).toBeInstanceOf(Error);
      },
    );
  });

  it('takes overrides as signals of the same names, ignoring one that makes no sense', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelSquakePurchase: permanent(ErrorType.WindowClosed, 'purchase is confirmed') }),
      async (taskQueue) => {
        const request = {
          ...validRequest(nextOrder()),
          carbon: { provider: 'squake' as const, purchaseId: 'purchase_sig1' },
        };
        const { handle } = await start(taskQueue, request);
        await waitForStatus(handle, (s) => s.status === 'needs_attention');
        await handle.signal(retryStepSignal, { step: 'recon', ...who });
        await handle.signal(skipStepSignal, { step: 'carbon', ...who });
        return handle.result();
      },
    );
    expect(result.carbon.outcome).toBe('skipped');
    expect(result.overrides.map((o) => `${o.action}:${o.step}`)).toEqual(['skipStep:carbon']);
  });

  it('returns the same saga for a second start, while running and after it finished', async () => {
    let release = false;
    const status = () =>
      Promise.resolve({ cancelId: 'c', status: release ? ('confirmed' as const) : ('pending' as const) });
    await withSagaWorker(env, succeedingActivities({ getCircleCancelStatus: status }), async (taskQueue) => {
      const request = validRequest(nextOrder());
      const first = await startRefund(env.client, request, { taskQueue });
      const second = await startRefund(env.client, request, { taskQueue });
      expect(first.alreadyExisted).toBe(false);
      expect(second).toMatchObject({ workflowId: first.workflowId, runId: first.runId, alreadyExisted: true });

      release = true;
      await env.client.workflow.getHandle(first.workflowId).result();
      const third = await startRefund(env.client, request, { taskQueue });
      expect(third).toMatchObject({ runId: first.runId, alreadyExisted: true, status: 'completed' });
      expect((await getRefundStatus(env.client, request.orderId)).status).toBe('completed');
    });
  });

  it('fails a run started with an invalid request, naming the field in the cause chain', async () => {
    await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const handle = await env.client.workflow.start('refundSaga', {
        taskQueue,
        workflowId: 'refund-bypassing-validation',
        args: [{ request: { ...validRequest('bad id') } }],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({
        type: ErrorType.InvalidRequest,
        message: expect.stringContaining('orderId must be 1-64'),
      });
    });
  });
});
