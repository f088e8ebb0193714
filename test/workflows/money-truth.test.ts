/**
 * The saga tells the truth about money (time-skipping server, stubbed activities): an ambiguous pivot is resolved by
 * reading Circle, amounts are Circle's, key generations get past stored failures, and nothing unchecked reaches
 * workflow code.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CancelCirclePaymentInput, CircleCancelState } from '../../src/activities';
import { startRefund } from '../../src/client';
import {
  abortUpdate,
  ErrorType,
  retryStepUpdate,
  skipStepUpdate,
  statusQuery,
  stepIdempotencyKey,
  stepIdempotencyUuid,
} from '../../src/domain';
import type { refundSaga } from '../../src/workflows';
import { validRequest } from '../support/fixtures';
import { recordHistory } from '../support/histories';
import { counted, succeedingActivities, waitForStatus, withSagaWorker } from '../support/saga';
import { timeSkippingEnvironment } from '../support/temporal';

const who = { operator: 'ops@example.com', reason: 'checked with the provider' };
const USD = (value: string) => ({ value, currency: 'USD' });
const OUTAGE = { outageEscalationMs: 60_000 };
let env: TestWorkflowEnvironment;
let orderSeq = 0;
const nextOrder = () => `ord_mt_${++orderSeq}`;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(() => env?.teardown());

const outage = () => Promise.reject(new Error('socket hang up'));
const permanent = (type: string, message: string) =>
  Promise.reject(ApplicationFailure.create({ type, message, nonRetryable: true }));
const ended = (s: { status: string }) => ['completed', 'aborted', 'needs_attention'].includes(s.status);

async function start(taskQueue: string, request = validRequest(nextOrder()), sagaOptions = {}) {
  const started = await startRefund(env.client, request, { taskQueue, sagaOptions });
  return env.client.workflow.getHandle<typeof refundSaga>(started.workflowId);
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as Error).message;
}

describe('an ambiguous pivot is resolved by reading Circle', () => {
  it('passes the pivot without an operator when a read shows that the cancel hidden by an outage took effect', async () => {
    const read = counted((call: number): Promise<CircleCancelState> =>
      Promise.resolve({
        cancelId: 'cancel-lost',
        status: call === 1 ? 'pending' : 'confirmed',
        amount: USD('12.60'),
        byThisSaga: true,
      }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelCirclePayment: outage, getCircleCancelStatus: read }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), OUTAGE);
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        expect((await waitForStatus(handle, ended)).status).toBe('completed');
        return handle.result();
      },
    );
    expect(result).toMatchObject({
      outcome: 'completed',
      payment: { outcome: 'reversed', cancelId: 'cancel-lost', settlement: 'confirmed', amount: USD('12.60') },
      carbon: { outcome: 'reversed' },
      overrides: [],
    });
  });

  it('accepts abort after an ambiguous failure once a read shows no cancel: nothing changed, and the result says so', async () => {
    const read = counted(() => Promise.resolve<CircleCancelState>({ status: 'none', amount: USD('12.60') }));
    const stripe = counted(() => Promise.reject(new Error('must not be called')));
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: outage,
        getCircleCancelStatus: read,
        cancelStripeClimateOrder: stripe,
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), OUTAGE);
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        const blocked = await waitForStatus(handle, ended);
        expect(blocked.steps.payment.lastError).toMatchObject({
          type: ErrorType.ProviderOutage,
          message: expect.stringContaining('Circle shows no cancel of this payment'),
        });
        await handle.executeUpdate(abortUpdate, { args: [who] });
        const result = await handle.result();
        await recordHistory('ambiguous-pivot-no-cancel-aborted', handle);
        return result;
      },
    );
    // Once after the failed cancel, and once more before the abort reports that nothing changed.
    expect(read.calls).toHaveLength(2);
    expect(stripe.calls).toHaveLength(0);
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'not_started' },
      leftForManualHandling: [],
    });
    expect(result.payment.amount).toBeUndefined();
  });

  it('refuses abort and skip while Circle cannot be read; a retry that finds the cancel passes the pivot, and abort then hands the rest over', async () => {
    let circleUp = false;
    const cancel = counted((_call: number, _input: CancelCirclePaymentInput) =>
      circleUp
        ? Promise.resolve<CircleCancelState>({
            cancelId: 'cancel-1',
            status: 'pending',
            amount: USD('12.60'),
            byThisSaga: true,
          })
        : outage(),
    );
    const read = (): Promise<CircleCancelState> =>
      circleUp ? Promise.resolve({ cancelId: 'cancel-1', status: 'confirmed', amount: USD('12.60') }) : outage();
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: cancel,
        getCircleCancelStatus: read,
        cancelStripeClimateOrder: () => permanent(ErrorType.WindowClosed, 'created 25 h ago'),
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), OUTAGE);
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        const blocked = await waitForStatus(handle, ended);
        expect(blocked.steps.payment.lastError?.message).toContain('unknown');
        expect(await rejection(handle.executeUpdate(abortUpdate, { args: [who] }))).toContain(
          "the payment's state is unknown; retry first",
        );
        expect(
          await rejection(handle.executeUpdate(skipStepUpdate, { args: [{ step: 'payment', ...who }] })),
        ).toContain("the payment's state is unknown; retry first");

        circleUp = true;
        await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
        await waitForStatus(handle, (s) => s.steps.carbon.state === 'blocked' && s.steps.payment.state === 'succeeded');
        await handle.executeUpdate(abortUpdate, { args: [who] });
        const result = await handle.result();
        await recordHistory('ambiguous-pivot-unknown-then-aborted', handle);
        return result;
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'reversed', cancelId: 'cancel-1', settlement: 'confirmed' },
      leftForManualHandling: ['carbon', 'impact', 'recon'],
    });
    expect(result.overrides.map((o) => o.action)).toEqual(['retryStep', 'abort']);
  });

  it('reports the payment as already reversed when Circle holds a cancel that this saga did not make', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: () =>
          Promise.resolve({ cancelId: 'cancel-x', status: 'pending', amount: USD('12.60'), byThisSaga: false }),
      }),
      async (taskQueue) => (await start(taskQueue)).result(),
    );
    expect(result.payment).toMatchObject({ outcome: 'already_reversed', cancelId: 'cancel-x' });
  });
});

describe('an abort reads Circle once more', () => {
  it('hands the payment to manual handling when the read before the abort finds a cancel the first read missed', async () => {
    const read = counted((call: number): Promise<CircleCancelState> =>
      call === 1
        ? Promise.resolve({ status: 'none', amount: USD('12.60') })
        : Promise.resolve({ cancelId: 'cancel-late', status: 'pending', amount: USD('12.60'), byThisSaga: true }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelCirclePayment: outage, getCircleCancelStatus: read }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), OUTAGE);
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        await waitForStatus(handle, ended);
        await handle.executeUpdate(abortUpdate, { args: [who] });
        return handle.result();
      },
    );
    expect(result).toMatchObject({
      outcome: 'aborted',
      payment: { outcome: 'left_for_manual_handling', cancelId: 'cancel-late' },
      leftForManualHandling: ['payment', 'carbon', 'impact', 'recon'],
    });
  });
});

describe('amounts are the providers’', () => {
  it('blocks on an amount that differs from the Circle payment, showing both, and reports what Circle cancelled once an operator accepts it', async () => {
    const cancel = counted((call: number, _input: CancelCirclePaymentInput) =>
      call === 1
        ? permanent(ErrorType.AmountMismatch, 'the request says 12.60 USD; the Circle payment is 50.00 USD')
        : Promise.resolve<CircleCancelState>({
            cancelId: 'cancel-50',
            status: 'pending',
            amount: USD('50.00'),
            byThisSaga: true,
          }),
    );
    const read = counted(() =>
      Promise.resolve<CircleCancelState>({ cancelId: 'cancel-50', status: 'confirmed', amount: USD('50.00') }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelCirclePayment: cancel, getCircleCancelStatus: read }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        const blocked = await waitForStatus(handle, ended);
        expect(blocked.steps.payment.lastError).toMatchObject({
          type: ErrorType.AmountMismatch,
          message: expect.stringMatching(/12\.60 USD.*50\.00 USD/),
        });
        await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
        const result = await handle.result();
        await recordHistory('amount-mismatch-accepted', handle);
        return result;
      },
    );
    expect(cancel.calls[0]![0]).toMatchObject({ expectedAmount: USD('12.60') });
    expect(cancel.calls[0]![0].acceptAmount).toBeFalsy();
    expect(cancel.calls[1]![0]).toMatchObject({ acceptAmount: true });
    // The block came from a read of the payment: no second read was needed to know nothing was cancelled.
    expect(read.calls).toHaveLength(1);
    expect(result.payment).toMatchObject({
      outcome: 'reversed',
      amount: USD('50.00'),
      requestedAmount: USD('12.60'),
    });
  });
});

describe('a skipped settlement wait', () => {
  const pendingForever = (status: 'pending' | 'failed') => () =>
    Promise.resolve<CircleCancelState>({ cancelId: 'cancel-1', status, amount: USD('12.60') });

  it("reports this saga's accepted cancel as reversed, unconfirmed, when an operator skips the wait for it to settle", async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: pendingForever('pending') }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.payment.state === 'waiting' && s.steps.recon.state === 'succeeded');
        await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'payment', evidence: 'Circle dashboard shows the void', ...who }],
        });
        return handle.result();
      },
    );
    expect(result.outcome).toBe('completed');
    // The cancel is this saga's, accepted by Circle: the money was reversed by it; its settlement was not seen.
    expect(result.payment).toMatchObject({ outcome: 'reversed', cancelId: 'cancel-1', amount: USD('12.60') });
    expect(result.payment.settlement).toBeUndefined();
    expect(result.overrides.map((o) => o.action)).toEqual(['skipStep']);
  });

  it('reports the accepted cancel as reversed when an abort overtakes a skip of the settlement wait', async () => {
    let reads = 0;
    // The second read is in flight (1.5 s, real time) when the skip cuts it short: the saga waits for it to answer,
    // and the abort arrives meanwhile.
    const read = () =>
      ++reads === 1
        ? pendingForever('pending')()
        : new Promise<CircleCancelState>((resolve) =>
            setTimeout(() => resolve({ cancelId: 'cancel-1', status: 'pending', amount: USD('12.60') }), 1500),
          );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: read }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), { pollInitialMs: 1000 });
        await waitForStatus(handle, (s) => s.steps.payment.state === 'waiting');
        await env.sleep(1500);
        await waitForStatus(handle, () => reads >= 2);
        await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'payment', evidence: 'Circle dashboard shows the void', ...who }],
        });
        await handle.executeUpdate(abortUpdate, { args: [who] });
        return handle.result();
      },
    );
    expect(result.overrides.map((o) => o.action)).toEqual(['skipStep', 'abort']);
    expect(result.payment).toMatchObject({ outcome: 'reversed', cancelId: 'cancel-1', amount: USD('12.60') });
  });

  it('reads Circle before the result: a cancel Circle failed since the last poll leaves the payment skipped', async () => {
    let failed = false;
    const read = counted(() =>
      Promise.resolve<CircleCancelState>({
        cancelId: 'cancel-1',
        status: failed ? 'failed' : 'pending',
        amount: USD('12.60'),
      }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: read }),
      async (taskQueue) => {
        // The next poll is an hour away: only the read before the result can see the failure.
        const handle = await start(taskQueue, validRequest('ord_mt_payment_skip_failed'), { pollInitialMs: 3_600_000 });
        await waitForStatus(handle, (s) => s.steps.payment.state === 'waiting' && s.steps.recon.state === 'succeeded');
        failed = true;
        await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'payment', evidence: 'Circle failed the cancel; refunded by hand', ...who }],
        });
        const result = await handle.result();
        await recordHistory('payment-skipped-while-pending-read-failed', handle);
        return result;
      },
    );
    expect(result.payment).toMatchObject({ outcome: 'skipped', cancelId: 'cancel-1' });
    expect(read.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('reports the payment as skipped when Circle settled the cancel as failed and an operator refunded by hand', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({ getCircleCancelStatus: pendingForever('failed') }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        await waitForStatus(handle, (s) => s.steps.payment.lastError?.type === ErrorType.SettlementFailed);
        await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'payment', evidence: 'refunded by hand, ticket 42', ...who }],
        });
        return handle.result();
      },
    );
    expect(result.payment).toMatchObject({ outcome: 'skipped', cancelId: 'cancel-1' });
  });
});

describe('keys that get past stored failures', () => {
  const storedFailure = () =>
    permanent(ErrorType.DoNotRetry, 'stripe_climate: stored 500 replayed; Stripe-Should-Retry: false');
  const carbonKey = (workflowId: string, generation: number) => stepIdempotencyKey(workflowId, 'carbon', generation);

  it('gets past a failure stored under the key by itself: a new key after a backoff, the earlier ones checked', async () => {
    const request = validRequest('ord_mt_rotate');
    const workflowId = `refund-${request.orderId}`;
    const stripe = counted((call: number, input: { orderId: string; idempotencyKey: string }) =>
      call <= 2 ? storedFailure() : succeedingActivities().cancelStripeClimateOrder(input),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: stripe }),
      async (taskQueue) => {
        const handle = await start(taskQueue, request, OUTAGE);
        const result = await handle.result();
        await recordHistory('stripe-stored-failure-new-key', handle);
        return result;
      },
    );
    expect(result).toMatchObject({ outcome: 'completed', carbon: { outcome: 'reversed' }, overrides: [] });
    expect(stripe.calls.map(([input]) => input)).toEqual([
      expect.objectContaining({ idempotencyKey: carbonKey(workflowId, 1), earlierKeys: [] }),
      // A key that replayed a stored failure made nothing: it is not asked again whether a cancel was its own.
      expect.objectContaining({ idempotencyKey: carbonKey(workflowId, 2), earlierKeys: [] }),
      expect.objectContaining({ idempotencyKey: carbonKey(workflowId, 3), earlierKeys: [] }),
    ]);
  });

  it('waits for an operator once new keys have met stored failures for the outage bound; each retry is a new key', async () => {
    const request = validRequest('ord_mt_keys');
    const workflowId = `refund-${request.orderId}`;
    const circle = counted((_call: number, _input: CancelCirclePaymentInput) =>
      Promise.resolve<CircleCancelState>({ cancelId: 'c', status: 'pending', amount: USD('12.60'), byThisSaga: true }),
    );
    let retried = false;
    const stripe = counted((_call: number, input: { orderId: string; idempotencyKey: string }) =>
      retried ? succeedingActivities().cancelStripeClimateOrder(input) : storedFailure(),
    );
    await withSagaWorker(
      env,
      succeedingActivities({ cancelCirclePayment: circle, cancelStripeClimateOrder: stripe }),
      async (taskQueue) => {
        const handle = await start(taskQueue, request, OUTAGE);
        await env.sleep(2 * OUTAGE.outageEscalationMs);
        const blocked = await waitForStatus(handle, ended);
        expect(blocked.steps.carbon.lastError).toMatchObject({
          type: ErrorType.DoNotRetry,
          message: expect.stringContaining('new key(s) over'),
        });
        retried = true;
        await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'carbon', ...who }] });
        await handle.result();
      },
    );
    expect(circle.calls[0]![0].idempotencyKey).toBe(
      stepIdempotencyUuid(workflowId, `payment:${request.payment.paymentId}`),
    );
    // New keys after 2, 4, 8 and 16 s; the next wait (32 s) would pass the 60 s bound, so the step blocked on key 5.
    const keys = stripe.calls.map(([input]) => input.idempotencyKey);
    expect(keys).toEqual([1, 2, 3, 4, 5, 6].map((g) => carbonKey(workflowId, g)));
    expect(stripe.calls.at(-1)![0]).toMatchObject({ earlierKeys: [] });
  });
});

describe('a step waiting for a new key', () => {
  it('can be skipped by an operator: no call is in flight, and the step ends skipped', async () => {
    const stripe = counted(() =>
      permanent(ErrorType.DoNotRetry, 'stripe_climate: stored 500 replayed; Stripe-Should-Retry: false'),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({ cancelStripeClimateOrder: stripe }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest('ord_mt_carbon_skip_waiting'), OUTAGE);
        const waiting = await waitForStatus(handle, (s) => s.steps.carbon.state === 'waiting');
        expect(waiting.steps.carbon.detail).toContain('a new key in');
        await handle.executeUpdate(skipStepUpdate, {
          args: [{ step: 'carbon', evidence: 'cancelled in the Stripe dashboard', ...who }],
        });
        const result = await handle.result();
        await recordHistory('carbon-skipped-while-waiting-for-new-key', handle);
        return { ...result, detail: (await handle.query(statusQuery)).steps.carbon.detail };
      },
    );
    expect(result).toMatchObject({ outcome: 'completed', carbon: { outcome: 'skipped' } });
    // The step says who skipped it and why, with the evidence.
    expect(result.detail).toBe(
      `skipped by ${who.operator}: ${who.reason} (evidence: cancelled in the Stripe dashboard)`,
    );
    expect(stripe.calls).toHaveLength(1);
  });
});

describe('Circle key generations', () => {
  it('repeats only the keys of generations whose cancel may have reached Circle', async () => {
    const request = validRequest('ord_mt_circle_keys');
    const workflowId = `refund-${request.orderId}`;
    const key = (generation: number) =>
      stepIdempotencyUuid(workflowId, `payment:${request.payment.paymentId}`, generation);
    const cancel = counted((_call: number, input: CancelCirclePaymentInput) =>
      input.idempotencyKey === key(1)
        ? permanent(ErrorType.AmountMismatch, 'the request says 12.60 USD; the Circle payment is 50.00 USD')
        : input.idempotencyKey === key(2)
          ? outage()
          : Promise.resolve<CircleCancelState>({
              cancelId: 'c',
              status: 'pending',
              amount: USD('50.00'),
              byThisSaga: true,
            }),
    );
    await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: cancel,
        getCircleCancelStatus: (input) =>
          Promise.resolve(
            input.keys
              ? { status: 'none' as const, amount: USD('50.00') }
              : { cancelId: 'c', status: 'confirmed' as const, amount: USD('50.00') },
          ),
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue, request, OUTAGE);
        await waitForStatus(handle, ended);
        await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        await waitForStatus(handle, (s) => s.status === 'needs_attention' && s.steps.payment.attempts === 2);
        await handle.executeUpdate(retryStepUpdate, { args: [{ step: 'payment', ...who }] });
        await handle.result();
      },
    );
    const executions = new Map(cancel.calls.map(([input]) => [input.idempotencyKey, input.earlierKeys]));
    expect([...executions]).toEqual([
      [key(1), []],
      // The amount mismatch stopped before any cancel was sent: generation 1 made nothing.
      [key(2), []],
      // Generation 2 failed in an outage, so its cancel may have reached Circle.
      [key(3), [key(2)]],
    ]);
  });

  it('lets an operator abort when Circle says it does not know the payment: nothing can have been cancelled', async () => {
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelCirclePayment: outage,
        getCircleCancelStatus: () =>
          Promise.reject(
            ApplicationFailure.create({ type: ErrorType.NotFound, message: 'no such payment', nonRetryable: true }),
          ),
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue, validRequest(nextOrder()), OUTAGE);
        await env.sleep(5 * OUTAGE.outageEscalationMs);
        const blocked = await waitForStatus(handle, ended);
        expect(blocked.steps.payment.lastError?.message).toContain('Circle shows no cancel');
        await handle.executeUpdate(abortUpdate, { args: [who] });
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

describe('nothing unchecked reaches workflow code', () => {
  it('fails a run at once when its options are out of bounds, naming each field', async () => {
    await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const request = validRequest(nextOrder());
      const handle = await env.client.workflow.start('refundSaga', {
        taskQueue,
        workflowId: `refund-${request.orderId}`,
        args: [{ request, options: { pollInitialMs: 0, outageEscalationMs: 0 } }],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toMatchObject({
        type: ErrorType.InvalidOptions,
        message: expect.stringMatching(/pollInitialMs.*outageEscalationMs|outageEscalationMs.*pollInitialMs/),
      });
    });
  });

  it('refuses to run under a workflow id other than refund-<orderId>', async () => {
    await withSagaWorker(env, succeedingActivities(), async (taskQueue) => {
      const handle = await env.client.workflow.start('refundSaga', {
        taskQueue,
        workflowId: 'refund-by-hand-1',
        args: [{ request: validRequest(nextOrder()) }],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toMatchObject({
        type: ErrorType.InvalidOptions,
        message: expect.stringContaining('must be "refund-ord_mt_'),
      });
    });
  });

  it('starts the recon window at the impact’s own time when the saga did not cancel the impact', async () => {
    const find = counted((_call: number, input: { since: string }) =>
      Promise.resolve({ kind: 'matched' as const, recordId: 'rev-1', fundsDateTime: input.since, scanned: 1 }),
    );
    await withSagaWorker(
      env,
      succeedingActivities({
        cancelImpact: () =>
          Promise.resolve({
            outcome: 'already_reversed',
            cancelledOn: '2026-01-01T00:00:00.000Z',
            reversed: { trees: 10 },
          }),
        findReconReversal: find,
      }),
      async (taskQueue) => (await start(taskQueue)).result(),
    );
    // The impact of validRequest was made at 2025-03-12T15:22:14.753Z; the window opens 10 minutes before it.
    expect(find.calls[0]![0].since).toBe('2025-03-12T15:12:14.753Z');
  });

  it('does not wedge on an impact cancellation time it cannot read: the recon window starts at the impact’s time', async () => {
    const find = counted((_call: number, input: { since: string }) =>
      Promise.resolve({ kind: 'matched' as const, recordId: 'rev-1', fundsDateTime: input.since, scanned: 1 }),
    );
    const result = await withSagaWorker(
      env,
      succeedingActivities({
        cancelImpact: () => Promise.resolve({ outcome: 'reversed', cancelledOn: 'yesterday', reversed: { trees: 1 } }),
        findReconReversal: find,
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue);
        expect((await waitForStatus(handle, ended)).status).toBe('completed');
        return handle.result();
      },
    );
    expect(result.recon.outcome).toBe('reversed');
    expect(find.calls[0]![0].since).toBe('2025-03-12T15:12:14.753Z');
  });
});
