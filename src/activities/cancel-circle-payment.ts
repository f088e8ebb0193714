/**
 * The pivot: cancel the Circle payment, check-then-act. The payment is read first, so a cancel that already exists
 * (ours, whose answer was lost, or someone else's) is reported rather than attempted again, and a request whose amount
 * differs from the payment's is stopped before anything changes.
 */
import { Context } from '@temporalio/activity';
import { ErrorType, type Amount } from '../domain';
import type { CircleClient } from '../providers/circle/client';
import { ProviderValidationError } from '../providers/errors';
import type { Payment } from '../providers/circle/schemas';
import { permanentFailure, rethrowProviderError } from './failures';
import { cancelledByOneOf } from './ownership';

export interface CancelCirclePaymentInput {
  paymentId: string;
  /** UUID v4 derived by the workflow from its id, the payment id, the step and the key generation. */
  idempotencyKey: string;
  /** Keys of earlier generations of this step: a cancel found on the payment may have been made with one of them. */
  earlierKeys?: string[];
  /** The request's amount; the payment must match it unless `acceptAmount`. Absent for sagas started before v2. */
  expectedAmount?: Amount;
  /** An operator accepted Circle's amount after an `AmountMismatch`. */
  acceptAmount?: boolean;
}

export interface CircleCancelState {
  cancelId?: string;
  status: 'pending' | 'confirmed' | 'paid' | 'failed' | 'none';
  /** The payment's amount as Circle holds it: a cancel reverses the whole payment. */
  amount?: Amount;
  /** Whether this saga's own key made the cancel; absent when unknown (no keys given). */
  byThisSaga?: boolean;
}

export interface ReadCirclePaymentInput {
  paymentId: string;
  /** The keys this saga may have sent a cancel with: given, a cancel found is checked against them. */
  keys?: string[];
}

const money = (amount: { amount: string; currency: string }): Amount => ({
  value: amount.amount,
  currency: amount.currency,
});

const sameAmount = (a: Amount, b: Amount) => a.currency === b.currency && Number(a.value) === Number(b.value);

export function circlePaymentActivities(circle: CircleClient) {
  /** The payment's cancel as a {@link CircleCancelState}, with who made it when `keys` are given. */
  async function stateOf(payment: Payment, keys: string[] | undefined, signal: AbortSignal) {
    const amount = money(payment.amount);
    const cancel = payment.cancel;
    if (!cancel) return { status: 'none' as const, amount };
    // A failed cancel moved no money, and repeating a key there could make a new cancel: who made it does not matter.
    const ask = keys && cancel.status !== 'failed';
    const byThisSaga = ask
      ? await cancelledByOneOf(keys, async (idempotencyKey) => {
          const answer = await circle.cancelPayment(
            payment.id,
            { reason: 'requested_by_customer' },
            { idempotencyKey, signal },
          );
          return answer.cancel.id === cancel.id;
        })
      : undefined;
    return { cancelId: cancel.id, status: cancel.status, amount, ...(byThisSaga !== undefined && { byThisSaga }) };
  }

  return {
    /**
     * Cancels the payment; Circle accepts it as `pending`. A payment that already has a cancel is reported as it is,
     * a failed payment is `NotEligible`, and an amount other than the request's is `AmountMismatch`.
     */
    cancelCirclePayment: async (input: CancelCirclePaymentInput): Promise<CircleCancelState> => {
      const { cancellationSignal: signal, info } = Context.current();
      try {
        if (input.expectedAmount) {
          const { payment } = await circle.getPayment(input.paymentId, { signal });
          if (payment.cancel) {
            // Our key may have made it on an earlier attempt whose answer was lost, or on an earlier generation.
            const keys = [...(info.attempt > 1 ? [input.idempotencyKey] : []), ...(input.earlierKeys ?? [])];
            return stateOf(payment, keys, signal);
          }
          if (payment.status === 'failed') {
            permanentFailure(ErrorType.NotEligible, `Circle payment ${payment.id} failed: there is nothing to cancel`);
          }
          const actual = money(payment.amount);
          if (!input.acceptAmount && !sameAmount(actual, input.expectedAmount)) {
            permanentFailure(
              ErrorType.AmountMismatch,
              `the request says ${input.expectedAmount.value} ${input.expectedAmount.currency}; the Circle payment is ${actual.value} ${actual.currency}, and a cancel reverses all of it. Retry the step to cancel ${actual.value} ${actual.currency}, or abort (nothing has changed)`,
            );
          }
        }
        const { cancel } = await circle.cancelPayment(
          input.paymentId,
          { reason: 'requested_by_customer' },
          { idempotencyKey: input.idempotencyKey, signal },
        );
        return { cancelId: cancel.id, status: cancel.status, amount: money(cancel.amount), byThisSaga: true };
      } catch (err) {
        rethrowProviderError(err, (e) => (e instanceof ProviderValidationError ? ErrorType.NotEligible : undefined));
      }
    },

    /**
     * Reads the payment's cancel: `pending` until Circle settles it as `confirmed`, `paid` or `failed`, or `none`.
     * With `keys`, also tells whether this saga made the cancel.
     */
    getCircleCancelStatus: async (input: ReadCirclePaymentInput): Promise<CircleCancelState> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const { payment } = await circle.getPayment(input.paymentId, { signal });
        return await stateOf(payment, input.keys, signal);
      } catch (err) {
        rethrowProviderError(err);
      }
    },
  };
}
