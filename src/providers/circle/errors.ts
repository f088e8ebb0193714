/** Maps the Circle SDK's (axios) failures into the shared provider error taxonomy. */
import {
  fromResponse,
  parseRetryAfter,
  ProviderIdempotencyConflictError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  type ProviderError,
} from '../errors';
import { CircleErrorSchema } from './schemas';

interface AxiosLikeError extends Error {
  isAxiosError: true;
  code?: string;
  message: string;
  response?: { status: number; data: unknown; headers: Record<string, unknown> };
}

function isAxiosError(err: unknown): err is AxiosLikeError {
  return typeof err === 'object' && err !== null && (err as { isAxiosError?: unknown }).isAxiosError === true;
}

/**
 * Turns whatever the Circle SDK threw into a {@link ProviderError}. A call the caller aborted is not a provider failure:
 * the client rethrows its signal's reason before asking this.
 */
export function fromCircleError(err: unknown, what: string): ProviderError {
  if (!isAxiosError(err)) {
    return new ProviderUnavailableError(
      { provider: 'circle', message: `${what} failed: ${String(err)}` },
      { cause: err },
    );
  }
  const response = err.response;
  if (!response) {
    const timedOut = err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT';
    const Type = timedOut ? ProviderTimeoutError : ProviderUnavailableError;
    return new Type({ provider: 'circle', message: `${what}: ${err.message}` }, { cause: err });
  }
  const headers = response.headers as Record<string, string | undefined>;
  const body = CircleErrorSchema.safeParse(response.data);
  const details = {
    provider: 'circle' as const,
    status: response.status,
    code: body.success ? String(body.data.code) : undefined,
    message: body.success ? body.data.message : `${what}: HTTP ${response.status}`,
    requestId: headers['x-request-id'],
    retryAfterMs: parseRetryAfter(headers['retry-after']),
  };
  // Circle answers 409 when a key was used for a different request: permanent, unlike a request still in flight.
  if (response.status === 409) return new ProviderIdempotencyConflictError(details, { cause: err });
  return fromResponse(details, err);
}
