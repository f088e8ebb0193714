/** The pivot: ask Circle to cancel the payment, and read how the cancel settles. */
import { Context } from '@temporalio/activity';
import { ErrorType } from '../domain';
import type { CircleClient } from '../providers/circle/client';
import { ProviderValidationError } from '../providers/errors';
import { rethrowProviderError } from './failures';

export interface CancelCirclePaymentInput {
  paymentId: string;
  /** UUID v4 derived by the workflow from its id and the step. */
  idempotencyKey: string;
}

export interface CircleCancelState {
  cancelId?: string;
  status: 'pending' | 'confirmed' | 'paid' | 'failed' | 'none';
}

export function circlePaymentActivities(circle: CircleClient) {
  return {
    /** Submits the cancel; Circle accepts it as `pending`. A 400 means the payment is not eligible. */
    cancelCirclePayment: async (input: CancelCirclePaymentInput): Promise<CircleCancelState> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const { cancel } = await circle.cancelPayment(
          input.paymentId,
          { reason: 'requested_by_customer' },
          { idempotencyKey: input.idempotencyKey, signal },
        );
        return { cancelId: cancel.id, status: cancel.status };
      } catch (err) {
        rethrowProviderError(err, (e) => (e instanceof ProviderValidationError ? ErrorType.NotEligible : undefined));
      }
    },

    /** Reads the payment's cancel: `pending` until Circle settles it as `confirmed`, `paid` or `failed`. */
    getCircleCancelStatus: async (input: { paymentId: string }): Promise<CircleCancelState> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const { payment } = await circle.getPayment(input.paymentId, { signal });
        return payment.cancel ? { cancelId: payment.cancel.id, status: payment.cancel.status } : { status: 'none' };
      } catch (err) {
        rethrowProviderError(err);
      }
    },
  };
}
