/**
 * A local 1ClickImpact API: an idempotent impact cancel ("impact was already cancelled" with the same `cancelled_on`),
 * totals that drop cancelled impacts, `/v1/track` and `/v1/records`
 * (docs/providers.md, "1ClickImpact: cancel an impact"). An impact can be linked to a funds allocation, so its cancel
 * makes the recon sandbox append a reversal. 1ClickImpact has no idempotency keys: a repeated cancel with another
 * reason than the first cancel's is another request, recorded as a duplicate attempt.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { SandboxServer, type SandboxOptions, type SandboxReply, type SandboxRoute } from '../sandbox-server';
import { CancelImpactRequestSchema, type ImpactRecord } from './schemas';

const KINDS = ['tree_planted', 'waste_removed', 'carbon_captured', 'money_donated'] as const;

interface SandboxImpact extends ImpactRecord {
  /** Sandbox-only: the funds allocation whose reversal follows this impact's cancel. */
  fundsAllocationId?: string;
}

interface ImpactState {
  impacts: Record<string, SandboxImpact>;
}

const ImpactFixture = z
  .strictObject({
    user_id: z
      .string()
      .regex(/^U\d+$/)
      .default('U1234'),
    time_utc: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      .optional(),
    tree_planted: z.number().int().positive().optional(),
    waste_removed: z.number().int().positive().optional(),
    carbon_captured: z.number().int().positive().optional(),
    money_donated: z.number().int().positive().optional(),
    category: z.string().optional(),
    fundsAllocationId: z.string().uuid().optional(),
  })
  .refine((f) => KINDS.filter((k) => f[k] !== undefined).length <= 1, {
    error: 'set at most one of tree_planted, waste_removed, carbon_captured, money_donated',
  });
const Fixtures = z.strictObject({ impacts: z.array(ImpactFixture).default([]) });

/** Options of the 1ClickImpact sandbox. */
export interface OneClickImpactSandboxOptions extends SandboxOptions {
  /** Called once when an impact is first cancelled; the dev stack links it to the recon sandbox. */
  onCancelled?: (impact: { fundsAllocationId?: string; cancelledAt: number }) => void;
}

const key = (userId: string, timeUtc: string) => `${userId}|${timeUtc}`;

/** 1ClickImpact sandbox; default dev key `1clickimpact-sandbox-key`. */
export class OneClickImpactSandbox extends SandboxServer<ImpactState, Record<string, never>> {
  readonly provider = '1clickimpact' as const;
  readonly defaultApiKey = '1clickimpact-sandbox-key';

  constructor(private readonly impactOptions: OneClickImpactSandboxOptions = {}) {
    super(impactOptions);
  }

  protected emptyState(): ImpactState {
    return { impacts: {} };
  }
  protected defaultSettings() {
    return {};
  }
  protected settingsSchema() {
    return z.strictObject({});
  }

  protected authorized(headers: IncomingHttpHeaders, apiKey: string): boolean {
    return headers['x-api-key'] === apiKey;
  }

  protected errorReply(status: number, _code: string, message: string): SandboxReply {
    return { status, body: { message: status === 401 ? 'Unauthorized: invalid or missing x-api-key' : message } };
  }

  protected seed(body: unknown) {
    const { impacts } = this.parseAdmin(Fixtures, body);
    return {
      impacts: impacts.map((f, i) => {
        const impact: SandboxImpact = {
          ...f,
          time_utc: f.time_utc ?? new Date(this.now() - 60_000 - i).toISOString(),
          ...(KINDS.every((k) => f[k] === undefined) && { tree_planted: 10 }),
        };
        this.state.impacts[key(impact.user_id, impact.time_utc)] = impact;
        return impact;
      }),
    };
  }

  protected routes(): SandboxRoute[] {
    return [
      { name: 'cancelImpact', method: 'POST', path: '/v1/cancel_impact', handle: ({ body }) => this.cancel(body) },
      { name: 'getImpact', method: 'GET', path: '/v1/impact', handle: () => this.totals() },
      { name: 'trackImpact', method: 'GET', path: '/v1/track', handle: ({ query }) => this.track(query) },
      { name: 'listRecords', method: 'GET', path: '/v1/records', handle: ({ query }) => this.records(query) },
    ];
  }

  private view(impact: SandboxImpact): ImpactRecord {
    const { fundsAllocationId: _f, ...record } = impact;
    return record;
  }

  private cancel(body: unknown): SandboxReply {
    const parsed = CancelImpactRequestSchema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { status: 400, body: { message: `${issue.path.join('.') || 'body'} ${issue.message}` } };
    }
    const { user_id, time_utc, reason } = parsed.data;
    const impact = this.state.impacts[key(user_id, time_utc)];
    if (!impact) return { status: 404, body: { message: `impact not found for user_id ${user_id} at ${time_utc}` } };

    const first = impact.cancelled_on === undefined;
    if (first) {
      impact.cancelled_on = new Date(this.now()).toISOString();
      if (reason !== undefined) impact.cancellation_reason = reason;
      this.record(key(user_id, time_utc), 'cancellation', { reason });
      this.impactOptions.onCancelled?.({ fundsAllocationId: impact.fundsAllocationId, cancelledAt: this.now() });
    } else if (reason !== impact.cancellation_reason) {
      // The reason tells a repeat apart (the saga puts its id in it); the same reason is the first cancel's retry.
      this.recordDuplicateAttempt(key(user_id, time_utc), { reason, cancelledWithReason: impact.cancellation_reason });
    }
    const { cancellation_reason, cancelled_on, ...record } = this.view(impact);
    return {
      status: 200,
      body: {
        ...record,
        cancelled_on,
        ...(cancellation_reason !== undefined && { reason: cancellation_reason }),
        message: first ? 'impact cancelled successfully' : 'impact was already cancelled',
      },
    };
  }

  private totals(): SandboxReply {
    const totals = { tree_planted: 0, waste_removed: 0, carbon_captured: 0, money_donated: 0 };
    for (const impact of Object.values(this.state.impacts)) {
      if (impact.cancelled_on) continue;
      for (const k of KINDS) totals[k] += impact[k] ?? 0;
    }
    return { status: 200, body: totals };
  }

  private track(query: URLSearchParams): SandboxReply {
    const userId = query.get('user_id');
    const timeUtc = query.get('time_utc');
    if (!userId || !timeUtc) return { status: 400, body: { message: 'user_id and time_utc are required' } };
    const impact = this.state.impacts[key(userId, timeUtc)];
    return impact ? { status: 200, body: this.view(impact) } : { status: 404, body: { message: 'impact not found' } };
  }

  private records(query: URLSearchParams): SandboxReply {
    const userId = query.get('user_id');
    const records = Object.values(this.state.impacts)
      .filter((i) => !userId || i.user_id === userId)
      .map((i) => this.view(i));
    return { status: 200, body: { user_records: records } };
  }
}
