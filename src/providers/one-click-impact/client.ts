/** 1ClickImpact client: a thin typed client over `fetch`. */
import { ProviderHttp, type RequestOptions } from '../http';
import {
  CancelImpactRequestSchema,
  CancelImpactResponseSchema,
  ImpactRecordSchema,
  ImpactRecordsSchema,
  ImpactTotalsSchema,
  OneClickImpactErrorSchema,
  type CancelImpactRequest,
  type CancelImpactResponse,
  type ImpactRecord,
  type ImpactTotals,
} from './schemas';
import { ProviderValidationError } from '../errors';

/** 1ClickImpact client settings; the key lives in the worker's config only. */
export interface OneClickImpactClientConfig {
  apiKey: string;
  /** e.g. `https://api.1clickimpact.com`, or a sandbox's URL. */
  baseUrl: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** The 1ClickImpact endpoints the saga and its tests use. */
export class OneClickImpactClient {
  private readonly http: ProviderHttp;
  constructor(config: OneClickImpactClientConfig) {
    this.http = new ProviderHttp({
      provider: '1clickimpact',
      baseUrl: config.baseUrl,
      headers: { 'x-api-key': config.apiKey },
      requestIdHeader: 'x-request-id',
      timeoutMs: config.timeoutMs,
      describeError(body) {
        const parsed = OneClickImpactErrorSchema.safeParse(body);
        return { message: parsed.success ? parsed.data.message : undefined };
      },
    });
  }

  /**
   * Cancels an impact. Idempotent by the impact's natural key (`user_id` + `time_utc`): a repeat answers
   * "impact was already cancelled" with the first `cancelled_on`, so no separate idempotency key exists.
   */
  async cancelImpact(request: CancelImpactRequest, options?: RequestOptions): Promise<CancelImpactResponse> {
    const valid = CancelImpactRequestSchema.safeParse(request);
    if (!valid.success) {
      const issue = valid.error.issues[0]!;
      throw new ProviderValidationError({
        provider: '1clickimpact',
        field: issue.path.join('.'),
        message: `${issue.path.join('.')} ${issue.message}`,
      });
    }
    const { data } = await this.http.send(
      { method: 'POST', path: '/v1/cancel_impact', json: valid.data, schema: CancelImpactResponseSchema },
      options,
    );
    return data;
  }

  /** Totals over impacts that are not cancelled. */
  async getImpactTotals(options?: RequestOptions): Promise<ImpactTotals> {
    return (await this.http.send({ method: 'GET', path: '/v1/impact', schema: ImpactTotalsSchema }, options)).data;
  }

  /** One impact, with `cancelled_on` once cancelled. */
  async trackImpact(userId: string, timeUtc: string, options?: RequestOptions): Promise<ImpactRecord> {
    const query = { user_id: userId, time_utc: timeUtc };
    return (await this.http.send({ method: 'GET', path: '/v1/track', query, schema: ImpactRecordSchema }, options))
      .data;
  }

  /** Impact records, cancelled ones included. */
  async listRecords(userId?: string, options?: RequestOptions): Promise<ImpactRecord[]> {
    const { data } = await this.http.send(
      { method: 'GET', path: '/v1/records', query: { user_id: userId }, schema: ImpactRecordsSchema },
      options,
    );
    return data.user_records;
  }
}
