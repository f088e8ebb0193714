/**
 * A local Stripe Climate API: orders cancellable within 24 h of `created` unless delivered or canceled, form-encoded
 * bodies, `Idempotency-Key` replay with `Idempotent-Replayed`, and Stripe's error shape
 * (docs/providers.md, "Stripe Climate: cancel an order").
 * Like Stripe, it stores the first answer to a key whatever it was, 500s included (an injected 5xx too), and replays
 * a stored 5xx with `Stripe-Should-Retry: false`: only a new key gets past it. A cancel under a new key of an order it
 * cancelled is refused and recorded as a duplicate attempt.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { SandboxServer, type SandboxReply, type SandboxRequest, type SandboxRoute } from '../sandbox-server';
import { CANCEL_WINDOW_SECONDS, type ClimateOrder } from './schemas';

interface StripeState {
  orders: Record<string, ClimateOrder & Record<string, unknown>>;
  /** Idempotency-Key → the request it was first used with and the answer it got. */
  idempotency: Record<string, { fingerprint: string; reply: SandboxReply }>;
  /** Orders this sandbox cancelled → the Idempotency-Key of that cancel, if it had one. */
  cancelledWith: Record<string, { key?: string }>;
}

const OrderFixture = z.strictObject({
  id: z
    .string()
    .regex(/^climorder_[A-Za-z0-9]+$/)
    .optional(),
  status: z.enum(['open', 'confirmed', 'awaiting_funds', 'delivered', 'canceled']).default('confirmed'),
  /** Why a `canceled` order was cancelled: `requested` by the merchant, or by Frontier. @default 'requested' */
  cancellation_reason: z.enum(['requested', 'expired', 'product_unavailable']).default('requested'),
  amount_subtotal: z.number().int().min(0).default(550),
  amount_fees: z.number().int().min(0).default(17),
  currency: z.string().default('usd'),
  metric_tons: z.string().default('0.01'),
  product: z.string().default('climsku_frontier_offtake_portfolio_2027'),
  /** Unix seconds; wins over `ageSeconds`. */
  created: z.number().int().optional(),
  /** Sandbox-only: how long ago the order was created (90000 = 25 h, past the window). */
  ageSeconds: z.number().min(0).default(3600),
});
const Fixtures = z.strictObject({ orders: z.array(OrderFixture).default([]) });

const alnum = (n: number) =>
  randomBytes(n)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, n);

/** What makes two requests under one key the same request: the order and the parameters. */
function fingerprintOf(orderId: string, body: unknown): string {
  return JSON.stringify([orderId, body ?? {}]);
}

/** Stripe Climate sandbox; default dev key `sk_test_sandbox`. */
export class StripeClimateSandbox extends SandboxServer<StripeState, Record<string, never>> {
  readonly provider = 'stripe_climate' as const;
  readonly defaultApiKey = 'sk_test_sandbox';
  protected override requestIdHeader = 'request-id';
  protected override newRequestId(): string {
    return `req_${alnum(14)}`;
  }

  protected emptyState(): StripeState {
    return { orders: {}, idempotency: {}, cancelledWith: {} };
  }
  protected defaultSettings() {
    return {};
  }
  protected settingsSchema() {
    return z.strictObject({});
  }

  /** Stripe takes the secret key as a Bearer token or as the Basic-auth user name. */
  protected authorized(headers: IncomingHttpHeaders, key: string): boolean {
    const auth = headers.authorization ?? '';
    if (auth === `Bearer ${key}`) return true;
    return auth.startsWith('Basic ') && Buffer.from(auth.slice(6), 'base64').toString().split(':')[0] === key;
  }

  protected errorReply(status: number, code: string, message: string): SandboxReply {
    const type = status >= 500 ? 'api_error' : 'invalid_request_error';
    return { status, body: { error: { type, message, ...(status === 429 ? { code: 'rate_limit' } : {}) } } };
  }

  protected seed(body: unknown) {
    const { orders } = this.parseAdmin(Fixtures, body);
    return {
      orders: orders.map((o) => {
        const order = {
          id: o.id ?? `climorder_${alnum(24)}`,
          object: 'climate.order' as const,
          amount_fees: o.amount_fees,
          amount_subtotal: o.amount_subtotal,
          amount_total: o.amount_fees + o.amount_subtotal,
          beneficiary: { public_name: 'Sandbox merchant' },
          canceled_at: o.status === 'canceled' ? this.seconds() : null,
          cancellation_reason: o.status === 'canceled' ? o.cancellation_reason : null,
          certificate: null,
          confirmed_at: null,
          created: o.created ?? this.seconds() - Math.round(o.ageSeconds),
          currency: o.currency,
          delayed_at: null,
          delivered_at: o.status === 'delivered' ? this.seconds() : null,
          delivery_details: [],
          expected_delivery_year: 2027,
          livemode: false,
          metadata: {},
          metric_tons: o.metric_tons,
          product: o.product,
          product_substituted_at: null,
          status: o.status,
        };
        this.state.orders[order.id] = order;
        // A re-seeded order is a new one: no cancel of this sandbox's is on it.
        delete this.state.cancelledWith[order.id];
        return order;
      }),
    };
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  protected routes(): SandboxRoute[] {
    return [
      {
        name: 'retrieveOrder',
        method: 'GET',
        path: '/v1/climate/orders/:id',
        handle: ({ params }) => {
          const order = this.state.orders[params.id!];
          return order ? { status: 200, body: order } : this.missing(params.id!);
        },
      },
      {
        name: 'cancelOrder',
        method: 'POST',
        path: '/v1/climate/orders/:id/cancel',
        handle: ({ params, body, headers }) => {
          const key = headers['idempotency-key'] as string | undefined;
          if (!key) return this.cancel(params.id!, undefined);
          const fingerprint = fingerprintOf(params.id!, body);
          const seen = this.state.idempotency[key];
          if (seen) {
            if (seen.fingerprint !== fingerprint) {
              return {
                status: 400,
                body: {
                  error: {
                    type: 'idempotency_error',
                    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
                  },
                },
              };
            }
            // A stored 5xx comes back on every retry with its key: Stripe says retrying it is pointless.
            const verdict: Record<string, string> = seen.reply.status >= 500 ? { 'stripe-should-retry': 'false' } : {};
            return { ...seen.reply, headers: { ...seen.reply.headers, 'idempotent-replayed': 'true', ...verdict } };
          }
          const reply = this.cancel(params.id!, key);
          // Stripe stores the first answer to a key whatever it was, and replays it.
          this.state.idempotency[key] = { fingerprint, reply };
          return reply;
        },
      },
    ];
  }

  /** An injected 5xx on a cancel is stored under its key, as Stripe stores a 500 it answered. */
  protected override failedBeforeHandling(route: SandboxRoute, request: SandboxRequest, reply: SandboxReply): void {
    const key = request.headers['idempotency-key'] as string | undefined;
    if (route.name !== 'cancelOrder' || !key || reply.status < 500 || this.state.idempotency[key]) return;
    this.state.idempotency[key] = { fingerprint: fingerprintOf(request.params.id!, request.body), reply };
  }

  private missing(id: string): SandboxReply {
    return {
      status: 404,
      body: {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'id',
          message: `No such climate order: '${id}'`,
        },
      },
    };
  }

  /** Cancels under `key`, which is new (a replay never gets here) or absent. */
  private cancel(id: string, key: string | undefined): SandboxReply {
    const order = this.state.orders[id];
    if (!order) return this.missing(id);
    const cancelledWith = this.state.cancelledWith[id];
    // An order seeded as canceled has no cancellation here to repeat.
    if (order.status === 'canceled' && cancelledWith) {
      this.recordDuplicateAttempt(id, { key, cancelledWithKey: cancelledWith.key });
    }
    if (order.status === 'delivered' || order.status === 'canceled') {
      return {
        status: 400,
        body: {
          error: {
            type: 'invalid_request_error',
            message: `This order cannot be canceled because its status is '${order.status}'.`,
          },
        },
      };
    }
    if (this.seconds() - order.created > CANCEL_WINDOW_SECONDS) {
      return {
        status: 400,
        body: {
          error: {
            type: 'invalid_request_error',
            message: 'Climate orders can only be canceled within 24 hours of creation.',
          },
        },
      };
    }
    order.status = 'canceled';
    order.canceled_at = this.seconds();
    order.cancellation_reason = 'requested';
    this.state.cancelledWith[id] = { key };
    this.record(id, 'cancellation', {
      refunded: order.amount_subtotal,
      feesKept: order.amount_fees,
      currency: order.currency,
    });
    return { status: 200, body: order };
  }
}
