/**
 * One error taxonomy for every provider (the stripe-node model): a `ProviderError` base with small subclasses, built by
 * one factory from an HTTP status, so activities classify failures the same way whichever provider raised them.
 */

/** The providers the saga talks to. */
export type ProviderName = 'circle' | 'stripe_climate' | 'squake' | '1clickimpact' | 'impact_recon';

/** What a provider told us about a failed call. */
export interface ProviderErrorDetails {
  provider: ProviderName;
  message: string;
  /** HTTP status, when the provider answered. */
  status?: number;
  /** The provider's own error code (`invalid_request_error`, `not_found`, …). */
  code?: string;
  /** The provider's request id header, for support tickets. */
  requestId?: string;
  /** Milliseconds the provider asked us to wait (`Retry-After`). */
  retryAfterMs?: number;
  /** Anything else worth keeping (e.g. a zod issue path). */
  field?: string;
  /** The provider's own word on retrying (Stripe's `Stripe-Should-Retry`); wins over the class's rule. */
  shouldRetry?: boolean;
}

/** Base of every provider failure; `retryable` says whether trying again can succeed. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly provider: ProviderName;
  readonly status?: number;
  readonly code?: string;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
  readonly field?: string;
  /** The provider's own word on retrying (Stripe's `Stripe-Should-Retry`), when it gave one. */
  readonly shouldRetry?: boolean;

  constructor(details: ProviderErrorDetails, options?: { cause?: unknown }) {
    super(`${details.provider}: ${details.message}`, options);
    this.provider = details.provider;
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
    this.field = details.field;
    this.shouldRetry = details.shouldRetry;
  }

  /** Whether trying again can succeed: the provider's own word when it gave one, else the class's rule. */
  get retryable(): boolean {
    return this.shouldRetry ?? this.retryableByDefault;
  }

  /** Whether the failure is of a kind worth retrying, yet the provider said retrying cannot help. */
  get retryRefusedByProvider(): boolean {
    return this.shouldRetry === false && this.retryableByDefault;
  }

  /** The class's rule; subclasses for transient failures say yes. */
  protected get retryableByDefault(): boolean {
    return false;
  }
}

/** 400/422: the provider rejected the request itself (including "not eligible" and "window closed" answers). */
export class ProviderValidationError extends ProviderError {
  override name = 'ProviderValidationError';
}

/** 401/403: our credentials were refused; retrying cannot help until the worker's config is fixed. */
export class ProviderAuthError extends ProviderError {
  override name = 'ProviderAuthError';
}

/** 404: the provider does not know the resource. */
export class ProviderNotFoundError extends ProviderError {
  override name = 'ProviderNotFoundError';
}

/** 409: a conflicting request; retryable while the first one is still in flight. */
export class ProviderConflictError extends ProviderError {
  override name = 'ProviderConflictError';
  protected override get retryableByDefault() {
    return true;
  }
}

/** The idempotency key was already used for a different request: a bug on our side that no retry can fix. */
export class ProviderIdempotencyConflictError extends ProviderError {
  override name = 'ProviderIdempotencyConflictError';
}

/** 429: throttled; retry after `retryAfterMs`. */
export class ProviderRateLimitError extends ProviderError {
  override name = 'ProviderRateLimitError';
  protected override get retryableByDefault() {
    return true;
  }
}

/** 5xx or a network failure: the provider is unavailable for now. */
export class ProviderUnavailableError extends ProviderError {
  override name = 'ProviderUnavailableError';
  protected override get retryableByDefault() {
    return true;
  }
}

/**
 * No answer within the per-call timeout, or a 408. The request may or may not have taken effect: retry with the same
 * key.
 */
export class ProviderTimeoutError extends ProviderError {
  override name = 'ProviderTimeoutError';
  protected override get retryableByDefault() {
    return true;
  }
}

/** The provider answered with a body that does not match its documented schema. */
export class ProviderMalformedResponseError extends ProviderError {
  override name = 'ProviderMalformedResponseError';
}

/**
 * Maps an HTTP status to the error class. The order is the retry policy, each rule with its reason:
 * 429 → retry after `Retry-After` (the provider asked us to slow down);
 * 408 → retry (the provider timed out reading the request; it may or may not have acted, so the same key);
 * 409 → retry (an earlier request with the same key is still in flight);
 * 5xx → retry (the provider's fault, usually brief);
 * a provider that says not to retry (`shouldRetry: false`) is believed, whatever the status;
 * 401/403, 404, other 4xx → permanent (the same request will get the same answer).
 */
export function fromResponse(details: ProviderErrorDetails & { status: number }, cause?: unknown): ProviderError {
  const { status } = details;
  const options = cause === undefined ? undefined : { cause };
  if (status === 429) return new ProviderRateLimitError(details, options);
  if (status === 408) return new ProviderTimeoutError(details, options);
  if (status === 409) return new ProviderConflictError(details, options);
  if (status >= 500) return new ProviderUnavailableError(details, options);
  if (status === 401 || status === 403) return new ProviderAuthError(details, options);
  if (status === 404) return new ProviderNotFoundError(details, options);
  return new ProviderValidationError(details, options);
}

/** Parses a `Retry-After` header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
