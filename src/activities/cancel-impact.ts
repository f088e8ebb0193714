/**
 * Cancels the 1ClickImpact impact; "impact was already cancelled" counts as success. The cancel's reason carries the
 * saga's id, and 1ClickImpact repeats the first cancel's reason on every later call, so an impact this saga cancelled
 * on an attempt whose answer was lost is still reported as this saga's.
 */
import { Context } from '@temporalio/activity';
import type { OneClickImpactClient } from '../providers/one-click-impact/client';
import { rethrowProviderError } from './failures';

export interface ImpactCancelResult {
  /** `reversed`: this saga cancelled it; `already_reversed`: it was cancelled before, without us. */
  outcome: 'reversed' | 'already_reversed';
  cancelledOn: string;
  reversed: { trees?: number; wasteLbs?: number; carbonLbs?: number; moneyCents?: number };
}

/** 1ClickImpact's longest reason. */
const MAX_REASON = 200;

/** The reason sent with the cancel: the refund's reason, then the saga's id in brackets. */
export function impactCancelReason(reason: string | undefined, sagaId: string): string {
  const tag = ` [${sagaId}]`;
  return `${(reason ?? 'order refunded').slice(0, MAX_REASON - tag.length)}${tag}`;
}

export function impactActivities(oneClickImpact: OneClickImpactClient) {
  return {
    /** Cancels by the impact's natural key (user id + original time), which makes the call idempotent. */
    cancelImpact: async (input: {
      userId: string;
      timeUtc: string;
      reason?: string;
      /** The saga's workflow id; absent for sagas started before it was sent. */
      sagaId?: string;
    }): Promise<ImpactCancelResult> => {
      const { cancellationSignal: signal } = Context.current();
      const reason = input.sagaId ? impactCancelReason(input.reason, input.sagaId) : input.reason?.slice(0, MAX_REASON);
      try {
        const answer = await oneClickImpact.cancelImpact(
          { user_id: input.userId, time_utc: input.timeUtc, reason },
          { signal },
        );
        const ours =
          answer.message === 'impact cancelled successfully' ||
          (input.sagaId !== undefined && answer.reason === reason);
        return {
          outcome: ours ? 'reversed' : 'already_reversed',
          cancelledOn: answer.cancelled_on,
          reversed: {
            trees: answer.tree_planted,
            wasteLbs: answer.waste_removed,
            carbonLbs: answer.carbon_captured,
            moneyCents: answer.money_donated,
          },
        };
      } catch (err) {
        rethrowProviderError(err);
      }
    },
  };
}
