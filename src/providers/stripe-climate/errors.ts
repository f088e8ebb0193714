/** Maps the official `stripe` package's errors into the shared provider error taxonomy. */
import Stripe from 'stripe';
import {
  fromResponse,
  parseRetryAfter,
  ProviderTimeoutError,
  ProviderUnavailableError,
  ProviderValidationError,
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
  };
  // Stripe answers 400 for a reused key with other parameters: a permanent bug on our side, never worth retrying.
  if (err.rawType === 'idempotency_error')
    return new ProviderValidationError({ ...details, code: 'idempotency_error' }, { cause: err });
  return fromResponse(details, err);
}
