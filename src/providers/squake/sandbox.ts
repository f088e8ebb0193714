/**
 * A local SQUAKE API: purchases cancellable only while `reserved`, confirmed when the reservation period ends, a
 * repeated cancel of a canceled purchase answered 200 unchanged, error arrays and `SQUAKE-Request-Id`
 * (docs/providers.md, "SQUAKE: cancel a purchase"). SQUAKE keeps no idempotency keys, but a repeated cancel under
 * another `Idempotency-Key` than the cancel's is recorded as a duplicate attempt.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { SandboxServer, type SandboxReply, type SandboxRoute } from '../sandbox-server';
import { PurchaseState, type Purchase } from './schemas';

interface SandboxPurchase extends Purchase {
  /** Sandbox-only: when a `reserved` purchase becomes `confirmed` (epoch ms). */
  reservedUntil: number;
  /** Sandbox-only: the `Idempotency-Key` of the cancel this sandbox made, if it had one. */
  cancelledWith?: { key?: string };
}

interface SquakeState {
  purchases: Record<string, SandboxPurchase>;
}

/** Knobs of the SQUAKE sandbox. */
export interface SquakeSettings {
  /** How long new purchases stay `reserved`. */
  reservationSeconds: number;
}

const PurchaseFixture = z.strictObject({
  id: z
    .string()
    .regex(/^purchase_[a-zA-Z0-9]+$/)
    .optional(),
  state: PurchaseState.default('reserved'),
  carbon_quantity: z.number().default(0.5),
  carbon_unit: z.enum(['tonne', 'kilogram', 'gram']).default('tonne'),
  total: z.number().int().default(1250),
  currency: z.string().default('EUR'),
  external_reference: z.string().optional(),
  payment_method: z.enum(['batch_settlement', 'stripe']).default('batch_settlement'),
  /** Sandbox-only: seconds until a `reserved` purchase confirms; defaults to the `reservationSeconds` setting. */
  reservationSeconds: z.number().min(0).optional(),
});
const Fixtures = z.strictObject({ purchases: z.array(PurchaseFixture).default([]) });

/** SQUAKE sandbox; default dev token `squake-sandbox-token`. */
export class SquakeSandbox extends SandboxServer<SquakeState, SquakeSettings> {
  readonly provider = 'squake' as const;
  readonly defaultApiKey = 'squake-sandbox-token';
  protected override requestIdHeader = 'squake-request-id';
  protected override newRequestId(): string {
    return `req_${randomUUID()}`;
  }

  protected emptyState(): SquakeState {
    return { purchases: {} };
  }
  protected defaultSettings(): SquakeSettings {
    return { reservationSeconds: 3600 };
  }
  protected settingsSchema() {
    return z.strictObject({ reservationSeconds: z.number().min(0).optional() });
  }

  protected authorized(headers: IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}`;
  }

  protected errorReply(status: number, code: string, message: string): SandboxReply {
    const squakeCode =
      status === 401 ? 'not_authorized' : status === 404 ? 'not_found' : status >= 429 ? 'server_error' : code;
    return { status, body: [{ code: squakeCode, detail: message }] };
  }

  protected seed(body: unknown) {
    const { purchases } = this.parseAdmin(Fixtures, body);
    return {
      purchases: purchases.map((p) => {
        const { reservationSeconds, ...fields } = p;
        const purchase: SandboxPurchase = {
          ...fields,
          id: p.id ?? `purchase_${randomBytes(9).toString('hex')}`,
          files: [],
          metadata: {},
          external_reference: p.external_reference ?? null,
          reservedUntil: this.now() + (reservationSeconds ?? this.settings.reservationSeconds) * 1000,
        };
        this.state.purchases[purchase.id] = purchase;
        return this.view(purchase);
      }),
    };
  }

  protected routes(): SandboxRoute[] {
    return [
      { name: 'getPurchase', method: 'GET', path: '/v2/purchases/:id', handle: ({ params }) => this.get(params.id!) },
      {
        name: 'cancelPurchase',
        method: 'POST',
        path: '/v2/purchases/:id/cancel',
        handle: ({ params, headers }) => this.cancel(params.id!, headers['idempotency-key'] as string | undefined),
      },
    ];
  }

  /** A reserved purchase confirms when its reservation ends; computed when observed. */
  private current(id: string): SandboxPurchase | undefined {
    const purchase = this.state.purchases[id];
    if (purchase?.state === 'reserved' && this.now() >= purchase.reservedUntil) purchase.state = 'confirmed';
    return purchase;
  }

  private view(purchase: SandboxPurchase): Purchase {
    const { reservedUntil: _r, cancelledWith: _c, ...body } = purchase;
    return body;
  }

  private notFound(id: string): SandboxReply {
    return {
      status: 404,
      body: [{ code: 'not_found', detail: `purchase ${id} not found`, source: { id, model: 'purchase' } }],
    };
  }

  private get(id: string): SandboxReply {
    const purchase = this.current(id);
    return purchase ? { status: 200, body: this.view(purchase) } : this.notFound(id);
  }

  /** Cancels; `key` is the request's `Idempotency-Key`, which SQUAKE ignores and the ledger uses. */
  private cancel(id: string, key: string | undefined): SandboxReply {
    const purchase = this.current(id);
    if (!purchase) return this.notFound(id);
    if (purchase.state === 'canceled') {
      // The same key is the cancel's retry; a purchase seeded as canceled has no cancel here to repeat.
      const { cancelledWith } = purchase;
      if (cancelledWith && cancelledWith.key !== key) {
        this.recordDuplicateAttempt(id, { key, cancelledWithKey: cancelledWith.key });
      }
      return { status: 200, body: this.view(purchase) };
    }
    if (purchase.state !== 'reserved') {
      return {
        status: 400,
        body: [
          {
            code: 'field_validation_error',
            detail: `purchase can only be canceled while reserved; it is ${purchase.state}`,
            source: { id, attribute: 'state', model: 'purchase' },
          },
        ],
      };
    }
    purchase.state = 'canceled';
    purchase.cancelledWith = { key };
    this.record(id, 'cancellation', { carbon_quantity: purchase.carbon_quantity, carbon_unit: purchase.carbon_unit });
    return { status: 200, body: this.view(purchase) };
  }
}
