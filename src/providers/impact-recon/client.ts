/** Impact reconciliation (funds allocations v3) client: a thin typed client over `fetch`. */
import { ProviderHttp, type RequestOptions } from '../http';
import {
  FundsAllocationPageSchema,
  FundsAllocationSchema,
  ReconErrorSchema,
  type FundsAllocation,
  type FundsAllocationPage,
  type FundsAllocationQuery,
} from './schemas';

/** Recon client settings; the key lives in the worker's config only. */
export interface ImpactReconClientConfig {
  apiKey: string;
  baseUrl: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** The two recon endpoints. */
export class ImpactReconClient {
  private readonly http: ProviderHttp;
  constructor(config: ImpactReconClientConfig) {
    this.http = new ProviderHttp({
      provider: 'impact_recon',
      baseUrl: config.baseUrl,
      headers: { authorization: `Bearer ${config.apiKey}` },
      requestIdHeader: 'x-request-id',
      timeoutMs: config.timeoutMs,
      describeError(body) {
        const parsed = ReconErrorSchema.safeParse(body);
        return parsed.success ? { code: parsed.data.code, message: parsed.data.message } : {};
      },
    });
  }

  /** One page of impact recon records in `[dateTimeFrom, dateTimeTo)`. */
  async listImpactAllocations(query: FundsAllocationQuery, options?: RequestOptions): Promise<FundsAllocationPage> {
    const { data } = await this.http.send(
      { method: 'GET', path: '/v3/funds/allocations/impact', query: { ...query }, schema: FundsAllocationPageSchema },
      options,
    );
    return data;
  }

  /** The impact recon record of one funds allocation. */
  async getImpactAllocation(fundsAllocationId: string, options?: RequestOptions): Promise<FundsAllocation> {
    const path = `/v3/funds/allocations/${encodeURIComponent(fundsAllocationId)}/impact`;
    return (await this.http.send({ method: 'GET', path, schema: FundsAllocationSchema }, options)).data;
  }

  /**
   * Every page of a window, following the cursors: forward from the start (or from `startingAfter`), or backward from
   * `endingBefore`.
   */
  async *pages(query: FundsAllocationQuery, options?: RequestOptions): AsyncGenerator<FundsAllocationPage> {
    const backward = query.endingBefore !== undefined;
    let cursor = { startingAfter: query.startingAfter, endingBefore: query.endingBefore };
    for (;;) {
      const page = await this.listImpactAllocations({ ...query, ...cursor }, options);
      yield page;
      if (!page.hasMore || page.data.length === 0) return;
      cursor = backward
        ? { startingAfter: undefined, endingBefore: page.data[0]!.fundsAllocationId }
        : { startingAfter: page.data[page.data.length - 1]!.fundsAllocationId, endingBefore: undefined };
    }
  }
}
