/**
 * Turns provider errors into Temporal failures: retryable ones are retried by the activity's retry policy (after
 * `Retry-After` when the provider sent one); permanent ones fail the activity with an {@link ErrorType} the workflow
 * decides on.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
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

/** Attempts after which a provider's malformed answer is taken for a changed API rather than a bad moment. */
export const MALFORMED_ATTEMPTS = 5;

/**
 * A body that fails the provider's schema says nothing about whether it acted, and is most often a moment's fault (a
 * proxy's error page, a cut-off answer): the same idempotent request is tried again, a few times (about half a
 * minute with the activities' backoff), before the step blocks as `MalformedResponse`.
 */
function transientlyMalformed(err: ProviderError): boolean {
  return err instanceof ProviderMalformedResponseError && Context.current().info.attempt < MALFORMED_ATTEMPTS;
}

/**
 * Rethrows `err` as a Temporal failure. `classify` may name a step-specific permanent type (e.g. `WindowClosed`);
 * otherwise 401/403 → Unauthorized, 404 → NotFound, key reused → IdempotencyConflict, malformed (after
 * {@link MALFORMED_ATTEMPTS} attempts) → MalformedResponse,
 * a transient failure the provider says not to retry → DoNotRetry, other 4xx → ProviderValidation.
 */
export function rethrowProviderError(err: unknown, classify?: (err: ProviderError) => ErrorType | undefined): never {
  if (!(err instanceof ProviderError)) throw err;
  if (err.retryable || transientlyMalformed(err)) {
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
