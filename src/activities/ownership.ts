/**
 * Telling this saga's cancellation from someone else's, by the provider's own word: repeating an idempotency key
 * returns that key's first answer, so a key that made the cancellation answers with it, and a key that made nothing is
 * refused (the resource is cancelled already). Any other answer leaves it unknown and is rethrown, so the activity
 * fails and is retried rather than guessing.
 */
import { ProviderError, ProviderValidationError } from '../providers/errors';

/**
 * Whether one of `keys` made the cancellation. `repeat` sends the cancel again with a key and says whether the answer
 * is the cancellation found; it runs only where a cancellation exists, so it can make no new one.
 */
export async function cancelledByOneOf(keys: string[], repeat: (key: string) => Promise<boolean>): Promise<boolean> {
  for (const key of keys) {
    try {
      if (await repeat(key)) return true;
    } catch (err) {
      // A refusal, or a failure the provider stored under that key (Stripe's replayed 500): that key made nothing.
      const madeNothing =
        err instanceof ProviderValidationError || (err instanceof ProviderError && err.retryRefusedByProvider);
      if (!madeNothing) throw err;
    }
  }
  return false;
}
