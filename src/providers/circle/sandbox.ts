/**
 * A local Circle payments API: asynchronous cancel settlement (`pending` → `confirmed`/`paid`/`failed` after a
 * delay), "not eligible" answers, and idempotency-key replay and conflicts
 * (docs/providers.md, "Circle: cancel a payment"). A cancel of an already cancelled payment under another key is
 * refused and recorded as a duplicate attempt.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { SandboxServer, type SandboxReply, type SandboxRoute } from '../sandbox-server';
import { CancelReason, UUID_V4 } from './schemas';
import { signCircleNotification } from './webhook-signature';

interface SandboxCancel {
  id: string;
  status: 'pending' | 'confirmed' | 'paid' | 'failed';
  createDate: string;
  idempotencyKey: string;
  reason?: string;
  settleAt: number;
}

interface SandboxPayment {
  id: string;
  merchantId: string;
  merchantWalletId: string;
  amount: { amount: string; currency: string };
  status: 'pending' | 'confirmed' | 'paid' | 'failed' | 'action_required';
  description: string;
  createDate: string;
  updateDate: string;
  /** Sandbox-only: the cancel settles as `failed`. */
  ineligibleAtSettlement: boolean;
  /** Sandbox-only: overrides the settle delay for this payment. */
  settleDelayMs?: number;
  cancel?: SandboxCancel;
  refunds: Array<{
    id: string;
    type: 'refund';
    amount: { amount: string; currency: string };
    status: string;
    createDate: string;
  }>;
}

interface CircleState {
  payments: Record<string, SandboxPayment>;
  /** idempotency key → the payment it was used for and the answer it got. */
  idempotency: Record<string, { paymentId: string; reply: SandboxReply }>;
}

/** Knobs of the Circle sandbox. */
export interface CircleSettings {
  /** How long an accepted cancel stays `pending`. */
  settleDelayMs: number;
  /** Where to POST a notification when a cancel settles; none by default. */
  webhookUrl?: string;
  /** Signs each notification (`X-Webhook-Timestamp`, `X-Webhook-Signature`, as in `webhook-signature.ts`). */
  webhookSecret?: string;
}

const PaymentFixture = z.strictObject({
  id: z
    .string()
    .regex(/^[0-9a-f-]{36}$/i)
    .optional(),
  amount: z.strictObject({ amount: z.string(), currency: z.string() }).default({ amount: '12.60', currency: 'USD' }),
  status: z.enum(['pending', 'confirmed', 'paid', 'failed', 'action_required']).default('confirmed'),
  description: z.string().default('Payment'),
  ineligibleAtSettlement: z.boolean().default(false),
  settleDelayMs: z.number().int().min(0).optional(),
  ageSeconds: z.number().min(0).default(60),
});
const Fixtures = z.strictObject({ payments: z.array(PaymentFixture).default([]) });

/** Node's longest timer (about 24.8 days); a longer one fires at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

const CancelBody = z.object({
  idempotencyKey: z.string().regex(UUID_V4, { error: 'must be a UUID v4' }),
  reason: CancelReason.optional(),
});

/** Circle sandbox; default dev key `circle-sandbox-key`. */
export class CircleSandbox extends SandboxServer<CircleState, CircleSettings> {
  readonly provider = 'circle' as const;
  readonly defaultApiKey = 'circle-sandbox-key';
  protected override requestIdHeader = 'x-request-id';
  protected override newRequestId(): string {
    return randomUUID();
  }

  protected emptyState(): CircleState {
    return { payments: {}, idempotency: {} };
  }
  protected defaultSettings(): CircleSettings {
    return { settleDelayMs: 2000 };
  }
  protected settingsSchema() {
    return z.strictObject({
      settleDelayMs: z.number().int().min(0).optional(),
      webhookUrl: z.string().url().optional(),
      webhookSecret: z.string().optional(),
    });
  }

  protected authorized(headers: IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}`;
  }

  protected errorReply(status: number, _code: string, message: string): SandboxReply {
    const code = status === 401 ? 401 : status === 404 ? 404 : status >= 500 ? 500 : status === 429 ? 429 : 2;
    return { status, body: { code, message } };
  }

  protected seed(body: unknown) {
    const { payments } = this.parseAdmin(Fixtures, body);
    return {
      payments: payments.map((p) => {
        const created = new Date(this.now() - p.ageSeconds * 1000).toISOString();
        const payment: SandboxPayment = {
          id: p.id ?? randomUUID(),
          merchantId: 'fc988ed5-c129-4f70-a064-e5beb7eb8e32',
          merchantWalletId: '212000',
          amount: p.amount,
          status: p.status,
          description: p.description,
          createDate: created,
          updateDate: created,
          ineligibleAtSettlement: p.ineligibleAtSettlement,
          settleDelayMs: p.settleDelayMs,
          refunds: [],
        };
        this.state.payments[payment.id] = payment;
        return this.view(payment);
      }),
    };
  }

  protected routes(): SandboxRoute[] {
    return [
      {
        name: 'getPayment',
        method: 'GET',
        path: '/v1/payments/:id',
        handle: ({ params }) => this.getPayment(params.id!),
      },
      {
        name: 'cancelPayment',
        method: 'POST',
        path: '/v1/payments/:id/cancel',
        handle: ({ params, body }) => this.cancelPayment(params.id!, body),
      },
    ];
  }

  private readonly settlements = new Set<NodeJS.Timeout>();

  /**
   * Settles the payment's pending cancel at its time and, when a webhook is set then, tells it, as Circle's
   * notifications do.
   */
  private scheduleSettlement(paymentId: string, settleAt: number): void {
    const timer = setTimeout(
      () => {
        this.settlements.delete(timer);
        const payment = this.state.payments[paymentId];
        if (!payment) return;
        this.settle(payment);
        // Not due yet on the sandbox's clock (a test's clock, or a delay past the longest timer): wait again.
        if (payment.cancel?.status === 'pending') {
          this.scheduleSettlement(paymentId, settleAt);
          return;
        }
        this.persist();
        this.notify(payment);
      },
      Math.min(Math.max(0, settleAt - this.now()), LONGEST_TIMER_MS),
    );
    timer.unref();
    this.settlements.add(timer);
  }

  private notify(payment: SandboxPayment): void {
    const { webhookUrl, webhookSecret } = this.settings;
    if (!webhookUrl) return;
    const body = JSON.stringify({
      clientId: payment.merchantId,
      notificationType: 'payments',
      version: 1,
      payment: this.view(payment),
    });
    // Signed at the wall clock, not the sandbox's: the receiver checks the timestamp against its own clock.
    const headers = {
      'content-type': 'application/json',
      ...(webhookSecret && signCircleNotification(body, webhookSecret, Math.floor(Date.now() / 1000))),
    };
    fetch(webhookUrl, { method: 'POST', headers, body }).catch(() => {
      // Like Circle, a notification that cannot be delivered is dropped; polling still finds the settlement.
    });
  }

  /** Re-arms the settlements of cancels still pending in the loaded state: a restart must not drop them. */
  override async listen(port?: number, host?: string): Promise<string> {
    const url = await super.listen(port, host);
    for (const payment of Object.values(this.state.payments)) {
      if (payment.cancel?.status === 'pending') this.scheduleSettlement(payment.id, payment.cancel.settleAt);
    }
    return url;
  }

  override reset(): void {
    this.settlements.forEach(clearTimeout);
    this.settlements.clear();
    super.reset();
  }

  override async close(): Promise<void> {
    this.settlements.forEach(clearTimeout);
    this.settlements.clear();
    await super.close();
  }

  /** Applies a due settlement; also computed when observed, so a read finds it whether or not its timer has run. */
  private settle(payment: SandboxPayment): void {
    const cancel = payment.cancel;
    if (!cancel || cancel.status !== 'pending' || this.now() < cancel.settleAt) return;
    const at = new Date(cancel.settleAt).toISOString();
    payment.updateDate = at;
    if (payment.ineligibleAtSettlement) {
      cancel.status = 'failed';
      this.record(payment.id, 'cancel_failed');
    } else if (payment.status === 'paid') {
      cancel.status = 'paid';
      payment.refunds.push({
        id: randomUUID(),
        type: 'refund',
        amount: payment.amount,
        status: 'paid',
        createDate: at,
      });
      this.record(payment.id, 'refund', { amount: payment.amount });
    } else {
      cancel.status = 'confirmed';
      this.record(payment.id, 'void', { amount: payment.amount });
    }
  }

  private view(payment: SandboxPayment) {
    const { ineligibleAtSettlement: _i, settleDelayMs: _s, cancel, ...rest } = payment;
    return {
      ...rest,
      type: 'payment' as const,
      ...(cancel && {
        cancel: {
          id: cancel.id,
          type: 'cancel',
          description: 'Payment',
          status: cancel.status,
          createDate: cancel.createDate,
        },
      }),
    };
  }

  private getPayment(id: string): SandboxReply {
    const payment = this.state.payments[id];
    if (!payment) return this.errorReply(404, 'not_found', 'Resource not found');
    this.settle(payment);
    return { status: 200, body: { data: this.view(payment) } };
  }

  private cancelPayment(id: string, body: unknown): SandboxReply {
    const parsed = CancelBody.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return this.errorReply(400, 'invalid', `Invalid entity. ${issue.path.join('.')} ${issue.message}`);
    }
    const { idempotencyKey, reason } = parsed.data;
    const seen = this.state.idempotency[idempotencyKey];
    if (seen) {
      if (seen.paymentId !== id) {
        return { status: 409, body: { code: 1, message: 'Idempotency key already used for a different request' } };
      }
      return seen.reply;
    }
    const payment = this.state.payments[id];
    if (!payment) return this.errorReply(404, 'not_found', 'Resource not found');
    this.settle(payment);
    if (payment.status === 'failed') {
      return { status: 400, body: { code: 2, message: 'Payment is not eligible for cancel: the payment failed' } };
    }
    if (payment.cancel) {
      // Not this key's cancel (that one was replayed above): another request to cancel a cancelled payment.
      this.recordDuplicateAttempt(payment.id, { key: idempotencyKey, cancelledWithKey: payment.cancel.idempotencyKey });
      return { status: 400, body: { code: 2, message: 'Payment is not eligible for cancel: already cancelled' } };
    }
    const now = new Date(this.now()).toISOString();
    payment.cancel = {
      id: randomUUID(),
      status: 'pending',
      createDate: now,
      idempotencyKey,
      reason,
      settleAt: this.now() + (payment.settleDelayMs ?? this.settings.settleDelayMs),
    };
    payment.updateDate = now;
    this.record(payment.id, 'cancellation', { idempotencyKey, reason });
    this.scheduleSettlement(payment.id, payment.cancel.settleAt);
    const reply: SandboxReply = {
      status: 201,
      body: {
        data: {
          id: payment.cancel.id,
          type: 'cancel',
          merchantId: payment.merchantId,
          merchantWalletId: payment.merchantWalletId,
          amount: payment.amount,
          description: payment.description,
          status: 'pending',
          originalPayment: this.view(payment),
          refund: payment.status === 'paid',
          createDate: now,
          updateDate: now,
        },
      },
    };
    this.state.idempotency[idempotencyKey] = { paymentId: id, reply };
    return reply;
  }
}
