/**
 * Overrides through the HTTP API (`REFUND_SAGA_API_URL`, with the operator's own `REFUND_SAGA_TOKEN`): the API checks
 * the credential, records its identity as the operator and vouches for the override to the worker. The API's error
 * envelope becomes the errors the CLI reports for the direct path.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { OverrideRejectedError, SagaEndedError, type OverridesReport } from '../client';
import type { cliApiConfig } from '../config';
import { InvalidRequestError, type FieldIssue, type SagaStatusView } from '../domain';

export type ApiTarget = NonNullable<ReturnType<typeof cliApiConfig>>;

interface ErrorEnvelope {
  error?: { code?: string; message?: string; issues?: FieldIssue[] };
}

async function post<T>(api: ApiTarget, path: string, body: unknown, id?: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${api.token}`,
        'content-type': 'application/json',
        ...(id !== undefined && { 'idempotency-key': id }),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the API at ${api.url}: ${(err as Error).message}`, { cause: err });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the API at ${api.url} answered ${response.status} with no JSON`);
  }
  if (response.ok) return parsed as T;
  const { code = 'unknown', message = response.statusText, issues } = (parsed as ErrorEnvelope).error ?? {};
  if (response.status === 400 && issues) throw new InvalidRequestError(issues);
  if (code === 'saga_ended') throw new SagaEndedError(/\((.+)\)$/.exec(message)?.[1] ?? 'ended');
  if (code === 'override_rejected') throw new OverrideRejectedError(message);
  if (response.status === 404 && code === 'not_found') throw new WorkflowNotFoundError(message, '', undefined);
  const hint =
    response.status === 401 ? ' (check REFUND_SAGA_TOKEN)' : response.status === 403 ? ' (your role or identity)' : '';
  throw new Error(`the API refused (${response.status} ${code}): ${message}${hint}`);
}

/** `POST /v1/refunds/{orderId}/overrides`: the saga's new status. */
export const overrideViaApi = (api: ApiTarget, orderId: string, override: object, id?: string) =>
  post<SagaStatusView>(api, `/v1/refunds/${encodeURIComponent(orderId)}/overrides`, override, id);

/** `POST /v1/refunds/overrides:batch`: the batch's report. */
export const overridesViaApi = (api: ApiTarget, batch: object, id?: string) =>
  post<OverridesReport>(api, '/v1/refunds/overrides:batch', batch, id);
