/**
 * Cancels the carbon order, check-then-act: read the order first, and only cancel what can still be cancelled. An
 * order found cancelled is reported as this saga's (`reversed`) or someone else's (`already_reversed`); outside the
 * window is a permanent `WindowClosed`.
 */
import { Context } from '@temporalio/activity';
import { ErrorType, type Amount } from '../domain';
import { ProviderValidationError } from '../providers/errors';
import type { SquakeClient } from '../providers/squake/client';
import type { Purchase, PurchaseState } from '../providers/squake/schemas';
import type { StripeClimateClient } from '../providers/stripe-climate/client';
import { CANCEL_WINDOW_SECONDS, type ClimateOrder } from '../providers/stripe-climate/schemas';
import { permanentFailure, rethrowProviderError } from './failures';
import { cancelledByOneOf } from './ownership';

export interface CarbonCancelResult {
  /** `reversed`: this saga cancelled it; `already_reversed`: it was cancelled, refunded or voided without us. */
  outcome: 'reversed' | 'already_reversed';
  /** What the provider refunds (or, for a purchase never charged, will not charge). */
  refunded?: Amount;
  /** Fees the provider keeps (Stripe's `amount_fees`, on cancellations we requested). */
  feesNotRefunded?: Amount;
  tonnes?: string;
  /** One sentence on what the provider's state means, for the step's detail. */
  detail?: string;
}

/** The carbon activities' input: the current key, and the keys of earlier generations of the step. */
export interface CarbonCancelInput {
  idempotencyKey: string;
  /** Keys sent by earlier generations of this step; absent for sagas started before key generations. */
  earlierKeys?: string[];
}

const money = (minor: number, currency: string): Amount => ({
  value: (minor / 100).toFixed(2),
  currency: currency.toUpperCase(),
});

/**
 * What a cancelled Climate order gives back: on a cancellation the merchant requested Stripe refunds `amount_subtotal`
 * and keeps `amount_fees`; when Frontier cancels (`expired`, `product_unavailable`) Stripe refunds `amount_total`.
 */
function stripeAmounts(order: ClimateOrder): Pick<CarbonCancelResult, 'refunded' | 'feesNotRefunded' | 'tonnes'> {
  const tonnes = order.metric_tons;
  switch (order.cancellation_reason) {
    case 'requested':
      return {
        refunded: money(order.amount_subtotal, order.currency),
        feesNotRefunded: money(order.amount_fees, order.currency),
        tonnes,
      };
    case 'expired':
    case 'product_unavailable':
      return { refunded: money(order.amount_total, order.currency), tonnes };
    default:
      // No reason given: which amounts came back is unknown, so none is reported.
      return { tonnes };
  }
}

/**
 * SQUAKE's states, one by one: what each means for a refund. `cancel` may be cancelled now; `done` was undone without
 * us (nothing is or will be charged, or it was refunded); `closed` is past the cancel window; `busy` cannot be
 * cancelled while a payment is under way.
 */
const SQUAKE_STATES: Record<PurchaseState, { kind: 'cancel' | 'done' | 'closed' | 'busy'; meaning: string }> = {
  reserved: { kind: 'cancel', meaning: 'reserved: still cancellable' },
  canceled: { kind: 'done', meaning: 'cancelled while reserved: nothing is charged' },
  voided: { kind: 'done', meaning: 'voided by SQUAKE before settlement: nothing is charged' },
  refunded: { kind: 'done', meaning: 'refunded by SQUAKE' },
  payment_aborted: { kind: 'done', meaning: "the customer's checkout payment was aborted: nothing was charged" },
  payment_initiated: {
    kind: 'busy',
    meaning: "the customer's checkout payment is under way; retry once it settles or aborts",
  },
  confirmed: { kind: 'closed', meaning: 'confirmed after its reservation period, on its way to batch settlement' },
  invoiced: { kind: 'closed', meaning: 'invoiced' },
  settled: { kind: 'closed', meaning: 'settled' },
  certificates_confirmed: { kind: 'closed', meaning: 'settled, certificates confirmed' },
  certificates_retired: { kind: 'closed', meaning: 'settled, certificates retired' },
};

export function carbonOrderActivities(clients: { stripeClimate: StripeClimateClient; squake: SquakeClient }) {
  return {
    /** Cancels a Stripe Climate order within 24 h of its creation. */
    cancelStripeClimateOrder: async (input: CarbonCancelInput & { orderId: string }): Promise<CarbonCancelResult> => {
      const { cancellationSignal: signal, info } = Context.current();
      try {
        const { order } = await clients.stripeClimate.retrieveOrder(input.orderId, { signal });
        if (order.status === 'canceled') {
          const keys = [...(info.attempt > 1 ? [input.idempotencyKey] : []), ...(input.earlierKeys ?? [])];
          const ours = await cancelledByOneOf(keys, async (idempotencyKey) => {
            const answer = await clients.stripeClimate.cancelOrder(order.id, { idempotencyKey, signal });
            return answer.replayed && answer.order.status === 'canceled';
          });
          return {
            outcome: ours ? 'reversed' : 'already_reversed',
            ...stripeAmounts(order),
            detail: `cancelled (${order.cancellation_reason ?? 'no reason given'})${ours ? '' : ' before this saga'}`,
          };
        }
        if (order.status === 'delivered') {
          permanentFailure(
            ErrorType.WindowClosed,
            `Climate order ${order.id} is delivered and can no longer be cancelled`,
          );
        }
        const ageSeconds = Math.floor(Date.now() / 1000) - order.created;
        if (ageSeconds > CANCEL_WINDOW_SECONDS) {
          permanentFailure(
            ErrorType.WindowClosed,
            `Climate order ${order.id} was created ${Math.floor(ageSeconds / 3600)} h ago; Stripe allows a cancel within 24 h`,
          );
        }
        const cancelled = await clients.stripeClimate.cancelOrder(input.orderId, {
          idempotencyKey: input.idempotencyKey,
          signal,
        });
        return { outcome: 'reversed', ...stripeAmounts(cancelled.order), detail: 'cancelled' };
      } catch (err) {
        // A 400 on the cancel itself means the window closed between our read and the cancel.
        rethrowProviderError(err, (e) => (e instanceof ProviderValidationError ? ErrorType.WindowClosed : undefined));
      }
    },

    /**
     * Cancels a SQUAKE purchase while it is `reserved`. SQUAKE keeps no idempotency keys (its cancel is idempotent by
     * state), so a purchase found `canceled` counts as this saga's when an earlier attempt of the step may have sent
     * the cancel, and as someone else's when none can have.
     */
    cancelSquakePurchase: async (input: CarbonCancelInput & { purchaseId: string }): Promise<CarbonCancelResult> => {
      const { cancellationSignal: signal, info } = Context.current();
      try {
        const { purchase } = await clients.squake.getPurchase(input.purchaseId, { signal });
        const state = SQUAKE_STATES[purchase.state];
        const amounts = squakeAmounts(purchase);
        if (state.kind === 'done') {
          const maySentBefore = info.attempt > 1 || (input.earlierKeys?.length ?? 0) > 0;
          const ours = purchase.state === 'canceled' && maySentBefore;
          return { outcome: ours ? 'reversed' : 'already_reversed', ...amounts, detail: state.meaning };
        }
        if (state.kind !== 'cancel') {
          permanentFailure(
            state.kind === 'closed' ? ErrorType.WindowClosed : ErrorType.NotEligible,
            `SQUAKE purchase ${purchase.id} is ${purchase.state} (${state.meaning}); only a reserved purchase can be cancelled`,
          );
        }
        await clients.squake.cancelPurchase(input.purchaseId, { idempotencyKey: input.idempotencyKey, signal });
        return { outcome: 'reversed', ...amounts, detail: 'cancelled while reserved: nothing is charged' };
      } catch (err) {
        rethrowProviderError(err, (e) => (e instanceof ProviderValidationError ? ErrorType.WindowClosed : undefined));
      }
    },
  };
}

/** SQUAKE's integer `total` is read as the currency's smallest unit, like Stripe's amounts. */
function squakeAmounts(p: Purchase): Pick<CarbonCancelResult, 'refunded' | 'tonnes'> {
  const factor = { tonne: 1, kilogram: 1e-3, gram: 1e-6 }[p.carbon_unit];
  return { refunded: money(p.total, p.currency), tonnes: String(Math.round(p.carbon_quantity * factor * 1e6) / 1e6) };
}
