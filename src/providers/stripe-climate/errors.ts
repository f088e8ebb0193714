/** Maps the official `stripe` package's errors into the shared provider error taxonomy. */
import Stripe from 'stripe';
import {
  fromResponse,
  parseRetryAfter,
  ProviderIdempotencyConflictError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  type ProviderError,
} from '../errors';

/** Turns whatever the Stripe SDK threw into a {@link ProviderError}. */
export function fromStripeError(err: unknown, what: string): ProviderError {
  if (!(err instanceof Stripe.errors.StripeError)) {
    return new ProviderUnavailableError(
      { provider: 'stripe_climate', message: `${what} failed: ${String(err)}` },
      { cause: err },
    );
  }
  if (err.statusCode === undefined) {
    // No HTTP answer: the connection failed or the per-request timeout fired.
    const Type = /timeout/i.test(err.message) ? ProviderTimeoutError : ProviderUnavailableError;
    return new Type({ provider: 'stripe_climate', message: `${what}: ${err.message}` }, { cause: err });
  }
  const details = {
    provider: 'stripe_climate' as const,
    status: err.statusCode,
    code: err.code ?? err.rawType,
    message: err.message,
    requestId: err.requestId,
    retryAfterMs: parseRetryAfter(err.headers?.['retry-after']),
    // Stripe says when a retry is pointless, e.g. a stored 500 replayed under the same key.
    shouldRetry: shouldRetry(err.headers?.['stripe-should-retry']),
  };
  // Stripe answers 400 for a reused key with other parameters: a permanent bug on our side, never worth retrying.
  if (err.rawType === 'idempotency_error')
    return new ProviderIdempotencyConflictError({ ...details, code: 'idempotency_error' }, { cause: err });
  return fromResponse(details, err);
}

function shouldRetry(header: string | undefined): boolean | undefined {
  return header === 'true' ? true : header === 'false' ? false : undefined;
}
