/** Stripe Climate orders client over the official `stripe` package, with responses validated and errors mapped. */
import Stripe from 'stripe';
import type { MutatingRequestOptions, RequestOptions } from '../http';
import { validateBody } from '../http';
import { fromStripeError } from './errors';
import { ClimateOrderSchema, type ClimateOrder } from './schemas';

/** Stripe client settings; the secret key lives in the worker's config only. */
export interface StripeClimateClientConfig {
  secretKey: string;
  /** Base URL, e.g. `https://api.stripe.com` or a sandbox's URL. @default https://api.stripe.com */
  baseUrl?: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** The Climate order endpoints the saga uses. */
export class StripeClimateClient {
  private readonly stripe: Stripe;
  constructor(private readonly config: StripeClimateClientConfig) {
    const url = new URL(config.baseUrl ?? 'https://api.stripe.com');
    this.stripe = new Stripe(config.secretKey, {
      host: url.hostname,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      // Temporal owns retries and backoff.
      maxNetworkRetries: 0,
      timeout: config.timeoutMs ?? 10_000,
      telemetry: false,
    });
  }

  /** Reads a Climate order. */
  async retrieveOrder(id: string, options: RequestOptions = {}): Promise<{ order: ClimateOrder; requestId?: string }> {
    const order = await abortable(
      this.stripe.climate.orders.retrieve(id, {}, { timeout: options.timeoutMs ?? this.config.timeoutMs }),
      options.signal,
    ).catch((err: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : fromStripeError(err, `retrieve Climate order ${id}`);
    });
    return this.validated(order);
  }

  /** Cancels a Climate order; Stripe refunds `amount_subtotal` and keeps `amount_fees`. */
  async cancelOrder(
    id: string,
    options: MutatingRequestOptions,
  ): Promise<{ order: ClimateOrder; requestId?: string; replayed: boolean }> {
    const order = await abortable(
      this.stripe.climate.orders.cancel(
        id,
        {},
        { idempotencyKey: options.idempotencyKey, timeout: options.timeoutMs ?? this.config.timeoutMs },
      ),
      options.signal,
    ).catch((err: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : fromStripeError(err, `cancel Climate order ${id}`);
    });
    return { ...this.validated(order), replayed: order.lastResponse.headers['idempotent-replayed'] === 'true' };
  }

  private validated(order: Stripe.Response<Stripe.Climate.Order>) {
    const requestId = order.lastResponse.requestId;
    const { lastResponse: _ignored, ...body } = order;
    return {
      order: validateBody('stripe_climate', ClimateOrderSchema, body, {
        status: order.lastResponse.statusCode,
        requestId,
      }),
      requestId,
    };
  }
}

/**
 * Rejects with the signal's reason (for an activity, its cancellation) when `signal` aborts; the Stripe SDK takes no
 * signal, so the request itself runs to its timeout.
 */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
