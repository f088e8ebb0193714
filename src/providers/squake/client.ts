/** SQUAKE purchases client: a thin typed client over `fetch`. */
import { ProviderHttp, type MutatingRequestOptions, type RequestOptions } from '../http';
import { PurchaseSchema, SquakeErrorSchema, type Purchase } from './schemas';

/** SQUAKE client settings; the token lives in the worker's config only. */
export interface SquakeClientConfig {
  token: string;
  /** e.g. `https://api.squake.earth`, or a sandbox's URL. */
  baseUrl: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** The SQUAKE purchase endpoints the saga uses. */
export class SquakeClient {
  private readonly http: ProviderHttp;
  constructor(config: SquakeClientConfig) {
    this.http = new ProviderHttp({
      provider: 'squake',
      baseUrl: config.baseUrl,
      headers: { authorization: `Bearer ${config.token}` },
      requestIdHeader: 'squake-request-id',
      timeoutMs: config.timeoutMs,
      describeError(body) {
        const errors = SquakeErrorSchema.safeParse(body);
        const first = errors.success ? errors.data[0] : undefined;
        return { code: first?.code, message: first?.detail ?? first?.code };
      },
    });
  }

  /** Reads a purchase. */
  async getPurchase(id: string, options?: RequestOptions): Promise<{ purchase: Purchase; requestId?: string }> {
    const { data, requestId } = await this.http.send(
      { method: 'GET', path: `/v2/purchases/${encodeURIComponent(id)}`, schema: PurchaseSchema },
      options,
    );
    return { purchase: data, requestId };
  }

  /** Cancels a `reserved` purchase; cancelling a canceled purchase answers it unchanged. */
  async cancelPurchase(
    id: string,
    options: MutatingRequestOptions,
  ): Promise<{ purchase: Purchase; requestId?: string }> {
    const { data, requestId } = await this.http.send(
      {
        method: 'POST',
        path: `/v2/purchases/${encodeURIComponent(id)}/cancel`,
        schema: PurchaseSchema,
        idempotencyHeader: 'idempotency-key',
      },
      options,
    );
    return { purchase: data, requestId };
  }
}
