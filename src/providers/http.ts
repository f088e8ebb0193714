/**
 * The one HTTP path of the `fetch`-based provider clients: per-call timeout and `AbortSignal`, the provider's auth and
 * request-id headers, schema validation of every body, and errors mapped through {@link fromResponse}. No retries:
 * Temporal owns them.
 */
import type { z } from 'zod';
import {
  fromResponse,
  parseRetryAfter,
  ProviderMalformedResponseError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  type ProviderName,
} from './errors';

/** Options of one call. */
export interface RequestOptions {
  /** Key that makes a retried mutating call take effect once. */
  idempotencyKey?: string;
  /**
   * Abort the call after this long.
   * @default the client's `timeoutMs`
   */
  timeoutMs?: number;
  /** Aborts the call, e.g. when the activity is cancelled. */
  signal?: AbortSignal;
}

/** Options of a mutating call: the idempotency key is required. */
export interface MutatingRequestOptions extends RequestOptions {
  idempotencyKey: string;
}

/** What every `fetch`-based client is configured with. */
export interface ProviderHttpConfig {
  provider: ProviderName;
  baseUrl: string;
  /** Auth and other fixed headers. */
  headers: Record<string, string>;
  /** Response header carrying the provider's request id. */
  requestIdHeader: string;
  /**
   * Per-call timeout.
   * @default 10000
   */
  timeoutMs?: number;
  /** Extracts the provider's code and message from an error body, whatever its shape. */
  describeError(body: unknown): { code?: string; message?: string };
}

/** One request: method, path, query, JSON body and the schema its successful response must match. */
export interface ProviderCall<S extends z.ZodType> {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** Header name for the idempotency key; omitted when the provider takes it in the body. */
  idempotencyHeader?: string;
  schema: S;
}

/** A validated response with the provider's request id. */
export interface ProviderResponse<T> {
  data: T;
  status: number;
  requestId?: string;
}

/** Names the first failing field of a zod error, e.g. `data.status`. */
export function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue?.path.length ? issue.path.map(String).join('.') : '(body)';
  return { field, message: issue?.message ?? 'invalid' };
}

/** Throws a {@link ProviderMalformedResponseError} naming the provider and the field when `body` fails `schema`. */
export function validateBody<S extends z.ZodType>(
  provider: ProviderName,
  schema: S,
  body: unknown,
  context: { status?: number; requestId?: string },
): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const { field, message } = firstIssue(parsed.error);
  throw new ProviderMalformedResponseError({
    provider,
    ...context,
    field,
    message: `unexpected response body: field "${field}": ${message}`,
  });
}

/** Sends provider calls over `fetch`. */
export class ProviderHttp {
  constructor(private readonly config: ProviderHttpConfig) {}

  async send<S extends z.ZodType>(
    call: ProviderCall<S>,
    options: RequestOptions = {},
  ): Promise<ProviderResponse<z.infer<S>>> {
    const { provider } = this.config;
    const url = new URL(call.path.replace(/^\//, ''), this.config.baseUrl.replace(/\/?$/, '/'));
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...this.config.headers };
    if (call.json !== undefined) headers['content-type'] = 'application/json';
    if (call.idempotencyHeader && options.idempotencyKey) headers[call.idempotencyHeader] = options.idempotencyKey;

    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs ?? 10_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: call.method,
        headers,
        body: call.json === undefined ? undefined : JSON.stringify(call.json),
        signal,
      });
      text = await response.text();
    } catch (err) {
      // Aborted by the caller (an activity being cancelled): its reason, not a provider failure.
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        throw new ProviderTimeoutError(
          { provider, message: `${call.method} ${call.path} got no answer within ${timeoutMs} ms` },
          { cause: err },
        );
      }
      throw new ProviderUnavailableError(
        { provider, message: `${call.method} ${call.path} failed: ${(err as Error).message}` },
        { cause: err },
      );
    }

    const requestId = response.headers.get(this.config.requestIdHeader) ?? undefined;
    let body: unknown = undefined;
    let parseFailed = false;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }

    if (!response.ok) {
      const described = parseFailed ? {} : this.config.describeError(body);
      throw fromResponse({
        provider,
        status: response.status,
        requestId,
        code: described.code,
        message: described.message ?? `HTTP ${response.status} ${response.statusText}`.trim(),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      });
    }
    if (parseFailed) {
      throw new ProviderMalformedResponseError({
        provider,
        status: response.status,
        requestId,
        field: '(body)',
        message: `unexpected response body: not JSON (${text.slice(0, 60)})`,
      });
    }
    return {
      data: validateBody(provider, call.schema, body, { status: response.status, requestId }),
      status: response.status,
      requestId,
    };
  }
}
