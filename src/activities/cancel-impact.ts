/** Cancels the 1ClickImpact impact; "impact was already cancelled" counts as success. */
import { Context } from '@temporalio/activity';
import type { OneClickImpactClient } from '../providers/one-click-impact/client';
import { rethrowProviderError } from './failures';

export interface ImpactCancelResult {
  outcome: 'reversed' | 'already_reversed';
  cancelledOn: string;
  reversed: { trees?: number; wasteLbs?: number; carbonLbs?: number; moneyCents?: number };
}

export function impactActivities(oneClickImpact: OneClickImpactClient) {
  return {
    /** Cancels by the impact's natural key (user id + original time), which makes the call idempotent. */
    cancelImpact: async (input: { userId: string; timeUtc: string; reason?: string }): Promise<ImpactCancelResult> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const answer = await oneClickImpact.cancelImpact(
          { user_id: input.userId, time_utc: input.timeUtc, reason: input.reason?.slice(0, 200) },
          { signal },
        );
        return {
          outcome: answer.message === 'impact cancelled successfully' ? 'reversed' : 'already_reversed',
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
