/**
 * The retry rules of the shared provider error taxonomy, and how activities turn each class into a Temporal failure.
 * The per-provider contracts (test/support/error-contract.ts) check the same rules over HTTP against each sandbox.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { rethrowProviderError } from '../../src/activities/failures';
import { ErrorType } from '../../src/domain';
import {
  fromResponse,
  ProviderConflictError,
  ProviderIdempotencyConflictError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  ProviderValidationError,
  type ProviderErrorDetails,
} from '../../src/providers/errors';

const details = (fields: Partial<ProviderErrorDetails> = {}): ProviderErrorDetails & { status: number } => ({
  provider: 'stripe_climate',
  message: 'boom',
  status: 500,
  ...fields,
});

function failureOf(err: unknown, classify?: Parameters<typeof rethrowProviderError>[1]): ApplicationFailure {
  try {
    rethrowProviderError(err, classify);
  } catch (thrown) {
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    return thrown as ApplicationFailure;
  }
}

describe('provider retry rules', () => {
  it('maps 408 to a retryable timeout', () => {
    const err = fromResponse(details({ status: 408 }));
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(err).toMatchObject({ name: 'ProviderTimeoutError', status: 408, retryable: true });
  });

  it('keeps a generic 409 a retryable conflict: an earlier request with the key is in flight', () => {
    const err = fromResponse(details({ provider: 'squake', status: 409 }));
    expect(err).toBeInstanceOf(ProviderConflictError);
    expect(err.retryable).toBe(true);
  });

  it('believes a provider that says not to retry a 5xx, keeping the class', () => {
    const err = fromResponse(details({ status: 500, shouldRetry: false }));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err).toMatchObject({ retryable: false, shouldRetry: false });
  });

  it('believes a provider that says to retry a 4xx', () => {
    const err = fromResponse(details({ status: 400, shouldRetry: true }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err.retryable).toBe(true);
  });

  it('keeps the class default when the provider says nothing', () => {
    expect(fromResponse(details({ status: 503 })).retryable).toBe(true);
    expect(fromResponse(details({ status: 400 })).retryable).toBe(false);
  });

  it('makes a key reused for a different request a permanent idempotency conflict, apart from validation and 409s', () => {
    const err = new ProviderIdempotencyConflictError(details({ status: 409 }));
    expect(err).toMatchObject({ name: 'ProviderIdempotencyConflictError', retryable: false });
    expect(err).not.toBeInstanceOf(ProviderValidationError);
    expect(err).not.toBeInstanceOf(ProviderConflictError);
  });
});

describe('provider errors as Temporal failures', () => {
  it('fails a 5xx the provider said not to retry as a permanent DoNotRetry', () => {
    const failure = failureOf(fromResponse(details({ status: 500, shouldRetry: false })));
    expect(failure).toMatchObject({ type: ErrorType.DoNotRetry, nonRetryable: true });
    expect(failure.details).toEqual([{ provider: 'stripe_climate', status: 500, requestId: undefined }]);
  });

  it('lets a step name its own type for an error the provider said not to retry', () => {
    const failure = failureOf(fromResponse(details({ status: 500, shouldRetry: false })), () => ErrorType.NotEligible);
    expect(failure).toMatchObject({ type: ErrorType.NotEligible, nonRetryable: true });
  });

  it('keeps a 4xx the provider said not to retry a ProviderValidation, as any 4xx', () => {
    const failure = failureOf(fromResponse(details({ status: 400, shouldRetry: false })));
    expect(failure).toMatchObject({ type: ErrorType.ProviderValidation, nonRetryable: true });
  });

  it('keeps a request the client refused before sending it (no status) a ProviderValidation', () => {
    const err = new ProviderValidationError({
      provider: '1clickimpact',
      message: 'user_id is malformed',
      field: 'user_id',
    });
    expect(failureOf(err)).toMatchObject({ type: ErrorType.ProviderValidation, nonRetryable: true });
  });

  it('fails a key reused for a different request as a permanent IdempotencyConflict, whatever the step classifies as validation', () => {
    const err = new ProviderIdempotencyConflictError(details({ provider: 'circle', status: 409 }));
    const failure = failureOf(err, (e) => (e instanceof ProviderValidationError ? ErrorType.NotEligible : undefined));
    expect(failure).toMatchObject({ type: ErrorType.IdempotencyConflict, nonRetryable: true });
  });

  it('retries a 408 with its class name as the type', () => {
    const failure = failureOf(fromResponse(details({ status: 408 })));
    expect(failure).toMatchObject({ type: 'ProviderTimeoutError', nonRetryable: false });
  });
});
