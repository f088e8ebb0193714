/** Circle payments client over the official `@circle-fin/circle-sdk`, with responses validated and errors mapped. */
import { Circle } from '@circle-fin/circle-sdk';
import type { MutatingRequestOptions, RequestOptions } from '../http';
import { validateBody } from '../http';
import { fromCircleError } from './errors';
import {
  CancelPaymentResponseSchema,
  GetPaymentResponseSchema,
  type CancelReason,
  type Payment,
  type PaymentCancel,
} from './schemas';

/** Circle client settings; the key lives in the worker's config only. */
export interface CircleClientConfig {
  apiKey: string;
  /** e.g. `https://api.circle.com`, or a sandbox's URL. */
  baseUrl: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** The two Circle endpoints the saga uses. */
export class CircleClient {
  private readonly sdk: Circle;
  constructor(private readonly config: CircleClientConfig) {
    this.sdk = new Circle(config.apiKey, config.baseUrl);
  }

  private axiosOptions(options: RequestOptions) {
    // The SDK's axios has no retries of its own; Temporal owns them.
    return { timeout: options.timeoutMs ?? this.config.timeoutMs ?? 10_000, signal: options.signal };
  }

  /** Asks Circle to cancel a payment; the answer is `pending` and settles later (see {@link getPayment}). */
  async cancelPayment(
    paymentId: string,
    params: { reason?: CancelReason },
    options: MutatingRequestOptions,
  ): Promise<{ cancel: PaymentCancel; requestId?: string }> {
    const response = await this.sdk.payments
      .cancelPayment(
        paymentId,
        { idempotencyKey: options.idempotencyKey, reason: params.reason },
        this.axiosOptions(options),
      )
      .catch((err: unknown) => {
        throw options.signal?.aborted ? options.signal.reason : fromCircleError(err, `cancel payment ${paymentId}`);
      });
    const requestId = requestIdOf(response.headers);
    const body = validateBody('circle', CancelPaymentResponseSchema, response.data, {
      status: response.status,
      requestId,
    });
    return { cancel: body.data, requestId };
  }

  /** Reads a payment, including its `cancel` and `refunds` once they exist. */
  async getPayment(paymentId: string, options: RequestOptions = {}): Promise<{ payment: Payment; requestId?: string }> {
    const response = await this.sdk.payments.getPayment(paymentId, this.axiosOptions(options)).catch((err: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : fromCircleError(err, `get payment ${paymentId}`);
    });
    const requestId = requestIdOf(response.headers);
    const body = validateBody('circle', GetPaymentResponseSchema, response.data, {
      status: response.status,
      requestId,
    });
    return { payment: body.data, requestId };
  }
}

function requestIdOf(headers: unknown): string | undefined {
  return (headers as Record<string, string | undefined>)['x-request-id'];
}
