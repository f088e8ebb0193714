/**
 * Turns provider errors into Temporal failures: retryable ones are retried by the activity's retry policy (after
 * `Retry-After` when the provider sent one); permanent ones fail the activity with an {@link ErrorType} the workflow
 * decides on.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType, type StepError } from '../domain';
import {
  ProviderAuthError,
  ProviderError,
  ProviderIdempotencyConflictError,
  ProviderMalformedResponseError,
  ProviderNotFoundError,
} from '../providers/errors';

/** What a failure carries for operators: never secrets, only the provider's own ids. */
export function failureDetails(err: ProviderError): Omit<StepError, 'type' | 'message'> {
  return { provider: err.provider, status: err.status, requestId: err.requestId };
}

/** Throws a non-retryable failure of `type`, keeping the provider's details. */
export function permanentFailure(type: ErrorType, message: string, err?: ProviderError): never {
  throw ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    details: err ? [failureDetails(err)] : [],
    cause: err,
  });
}

/**
 * Rethrows `err` as a Temporal failure. `classify` may name a step-specific permanent type (e.g. `WindowClosed`);
 * otherwise 401/403 → Unauthorized, 404 → NotFound, key reused → IdempotencyConflict, malformed → MalformedResponse,
 * a transient failure the provider says not to retry → DoNotRetry, other 4xx → ProviderValidation.
 */
export function rethrowProviderError(err: unknown, classify?: (err: ProviderError) => ErrorType | undefined): never {
  if (!(err instanceof ProviderError)) throw err;
  if (err.retryable) {
    throw ApplicationFailure.create({
      message: err.message,
      type: err.name,
      details: [failureDetails(err)],
      nextRetryDelay: err.retryAfterMs,
      cause: err,
    });
  }
  const type =
    classify?.(err) ??
    (err instanceof ProviderAuthError
      ? ErrorType.Unauthorized
      : err instanceof ProviderNotFoundError
        ? ErrorType.NotFound
        : err instanceof ProviderIdempotencyConflictError
          ? ErrorType.IdempotencyConflict
          : err instanceof ProviderMalformedResponseError
            ? ErrorType.MalformedResponse
            : err.retryRefusedByProvider
              ? ErrorType.DoNotRetry
              : ErrorType.ProviderValidation);
  permanentFailure(type, err.message, err);
}
