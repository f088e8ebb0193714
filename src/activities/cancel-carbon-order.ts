/**
 * Cancels the carbon order, check-then-act: read the order first, and only cancel what can still be cancelled.
 * Already cancelled counts as done; outside the window is a permanent `WindowClosed`.
 */
import { Context } from '@temporalio/activity';
import { ErrorType } from '../domain';
import { ProviderValidationError } from '../providers/errors';
import type { SquakeClient } from '../providers/squake/client';
import type { StripeClimateClient } from '../providers/stripe-climate/client';
import { CANCEL_WINDOW_SECONDS } from '../providers/stripe-climate/schemas';
import { permanentFailure, rethrowProviderError } from './failures';

export interface CarbonCancelResult {
  outcome: 'reversed' | 'already_reversed';
  /** Refunded amount in the currency's smallest unit. */
  refunded?: { value: string; currency: string };
  /** Fees the provider keeps (Stripe's `amount_fees`). */
  feesNotRefunded?: { value: string; currency: string };
  tonnes?: string;
}

const money = (minor: number, currency: string) => ({
  value: (minor / 100).toFixed(2),
  currency: currency.toUpperCase(),
});

export function carbonOrderActivities(clients: { stripeClimate: StripeClimateClient; squake: SquakeClient }) {
  return {
    /** Cancels a Stripe Climate order within 24 h of its creation. */
    cancelStripeClimateOrder: async (input: {
      orderId: string;
      idempotencyKey: string;
    }): Promise<CarbonCancelResult> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const { order } = await clients.stripeClimate.retrieveOrder(input.orderId, { signal });
        const amounts = {
          refunded: money(order.amount_subtotal, order.currency),
          feesNotRefunded: money(order.amount_fees, order.currency),
          tonnes: order.metric_tons,
        };
        if (order.status === 'canceled') return { outcome: 'already_reversed', ...amounts };
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
        return {
          outcome: 'reversed',
          ...amounts,
          feesNotRefunded: money(cancelled.order.amount_fees, cancelled.order.currency),
        };
      } catch (err) {
        // A 400 on the cancel itself means the window closed between our read and the cancel.
        rethrowProviderError(err, (e) =>
          e instanceof ProviderValidationError && e.code !== 'idempotency_error' ? ErrorType.WindowClosed : undefined,
        );
      }
    },

    /** Cancels a SQUAKE purchase while it is `reserved`. */
    cancelSquakePurchase: async (input: {
      purchaseId: string;
      idempotencyKey: string;
    }): Promise<CarbonCancelResult> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const { purchase } = await clients.squake.getPurchase(input.purchaseId, { signal });
        // SQUAKE's integer `total` is read as the currency's smallest unit, like Stripe's amounts.
        const amounts = { refunded: money(purchase.total, purchase.currency), tonnes: tonnes(purchase) };
        if (purchase.state === 'canceled') return { outcome: 'already_reversed', ...amounts };
        if (purchase.state !== 'reserved') {
          permanentFailure(
            ErrorType.WindowClosed,
            `SQUAKE purchase ${purchase.id} is ${purchase.state}; only a reserved purchase can be cancelled`,
          );
        }
        await clients.squake.cancelPurchase(input.purchaseId, { idempotencyKey: input.idempotencyKey, signal });
        return { outcome: 'reversed', ...amounts };
      } catch (err) {
        rethrowProviderError(err, (e) => (e instanceof ProviderValidationError ? ErrorType.WindowClosed : undefined));
      }
    },
  };
}

function tonnes(p: { carbon_quantity: number; carbon_unit: 'tonne' | 'kilogram' | 'gram' }): string {
  const factor = { tonne: 1, kilogram: 1e-3, gram: 1e-6 }[p.carbon_unit];
  return String(Math.round(p.carbon_quantity * factor * 1e6) / 1e6);
}
