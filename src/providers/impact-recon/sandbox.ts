/**
 * A local impact reconciliation feed: required time bounds (`dateTimeTo` exclusive), filters, limit 1–100, cursor
 * pagination both ways, and reversal records appended a delay after a linked impact is cancelled — matching, with
 * mismatched amounts, or never (docs/providers.md, "Impact reconciliation: funds allocations").
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { SandboxServer, type SandboxReply, type SandboxRoute } from '../sandbox-server';
import type { FundsAllocation } from './schemas';

/** What happens after a linked impact is cancelled. */
export const ReversalBehaviour = z.enum(['match', 'mismatch', 'never']);
export type ReversalBehaviour = z.infer<typeof ReversalBehaviour>;

interface ReconState {
  records: FundsAllocation[];
  /** Reversals scheduled but not yet in the feed. */
  pending: Array<{ originalId: string; dueAt: number; behaviour: ReversalBehaviour }>;
  /** Per-allocation override of the `reversalBehaviour` setting. */
  behaviours: Record<string, ReversalBehaviour>;
}

/** Knobs of the recon sandbox. */
export interface ReconSettings {
  /** Delay between an impact's cancel and its reversal record. */
  reversalDelayMs: number;
  reversalBehaviour: ReversalBehaviour;
}

const AllocationFixture = z.strictObject({
  fundsAllocationId: z.string().uuid().optional(),
  quoteId: z.string().uuid().optional(),
  fundsDateTime: z.string().datetime().optional(),
  consumerReference: z.string().default('consumer_123'),
  fundsOrganisationId: z.string().uuid().default('2f6d6b1f-1c6a-4e9a-9c15-7b8a0db1a2c3'),
  fundsCurrencyCode: z.string().default('GBP'),
  reversal: z.boolean().default(false),
  total: z.number().default(12.6),
  impactPartnerId: z.string().uuid().default('250636c2-8702-47c1-9720-7c3f93395790'),
  /** Sandbox-only: overrides the `reversalBehaviour` setting for this allocation. */
  reversalBehaviour: ReversalBehaviour.optional(),
});
const Fixtures = z.strictObject({
  allocations: z.array(AllocationFixture).default([]),
  /** Bulk filler records, e.g. to make a window span several pages. */
  generate: z
    .strictObject({
      count: z.number().int().min(1).max(10_000),
      from: z.string().datetime(),
      spacingSeconds: z.number().min(1).default(60),
      consumerReference: z.string().default('filler'),
    })
    .optional(),
});

const ListQuery = z
  .strictObject({
    dateTimeFrom: z.string({ error: 'is required' }).datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
    dateTimeTo: z.string({ error: 'is required' }).datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
    consumerReference: z.string().optional(),
    impactPartnerId: z.string().optional(),
    fundsOrganisationId: z.string().optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1, { error: 'must be between 1 and 100' })
      .max(100, { error: 'must be between 1 and 100' })
      .default(25),
    startingAfter: z.string().optional(),
    endingBefore: z.string().optional(),
  })
  .refine((q) => !(q.startingAfter && q.endingBefore), {
    error: 'use startingAfter or endingBefore, not both',
    path: ['endingBefore'],
  });

const byFeedOrder = (a: FundsAllocation, b: FundsAllocation) =>
  Date.parse(a.fundsDateTime) - Date.parse(b.fundsDateTime) || a.fundsAllocationId.localeCompare(b.fundsAllocationId);

/** Impact recon sandbox; default dev key `recon-sandbox-key`. */
export class ImpactReconSandbox extends SandboxServer<ReconState, ReconSettings> {
  readonly provider = 'impact_recon' as const;
  readonly defaultApiKey = 'recon-sandbox-key';
  protected override requestIdHeader = 'x-request-id';
  protected override newRequestId(): string {
    return randomUUID();
  }

  protected emptyState(): ReconState {
    return { records: [], pending: [], behaviours: {} };
  }
  protected defaultSettings(): ReconSettings {
    return { reversalDelayMs: 5000, reversalBehaviour: 'match' };
  }
  protected settingsSchema() {
    return z.strictObject({
      reversalDelayMs: z.number().int().min(0).optional(),
      reversalBehaviour: ReversalBehaviour.optional(),
    });
  }

  protected authorized(headers: IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}`;
  }

  protected errorReply(status: number, code: string, message: string): SandboxReply {
    return { status, body: { code: status === 401 ? 'unauthorized' : code, message } };
  }

  protected seed(body: unknown) {
    const { allocations, generate } = this.parseAdmin(Fixtures, body);
    const created = allocations.map((f) => {
      const record = this.allocation(f, f.fundsDateTime ?? new Date(this.now()).toISOString());
      if (f.reversalBehaviour) this.state.behaviours[record.fundsAllocationId] = f.reversalBehaviour;
      return record;
    });
    if (generate) {
      const start = Date.parse(generate.from);
      for (let i = 0; i < generate.count; i++) {
        const at = new Date(start + i * generate.spacingSeconds * 1000).toISOString();
        this.allocation(
          AllocationFixture.parse({ consumerReference: generate.consumerReference, total: 1 + (i % 50) }),
          at,
        );
      }
    }
    return { allocations: created, generated: generate?.count ?? 0 };
  }

  private allocation(f: z.infer<typeof AllocationFixture>, at: string): FundsAllocation {
    const serviceFee = Math.round(f.total * 0.15873 * 100) / 100;
    const serviceFeeTax = Math.round(serviceFee * 0.2 * 100) / 100;
    const record: FundsAllocation = {
      fundsAllocationId: f.fundsAllocationId ?? randomUUID(),
      quoteId: f.quoteId ?? randomUUID(),
      fundsDateTime: at,
      consumerReference: f.consumerReference,
      fundsOrganisationId: f.fundsOrganisationId,
      fundsOrganisationReference: 'MID12345',
      collectionOrganisationId: '9e1d3a52-0e3d-4a9f-8b6e-1c2d3e4f5a6b',
      fundsCurrencyCode: f.fundsCurrencyCode,
      reversal: f.reversal,
      taxLiability: 'platform',
      amounts: {
        total: f.total,
        impact: Math.round((f.total - serviceFee - serviceFeeTax) * 100) / 100,
        impactTax: 0,
        serviceFee,
        serviceFeeTax,
      },
      merchant: { name: 'Blossom & Bloom' },
      credits: [
        {
          impactPartnerId: f.impactPartnerId,
          projectId: 'dfa40a8a-8c24-404d-bed9-6bc3ee60b2b6',
          amounts: { impact: 1.21, impactTax: 0, impactTaxRate: 0 },
          unit: { description: 'kgCO2e', quantity: 1000 },
        },
      ],
      contribution: [],
    };
    this.state.records.push(record);
    return record;
  }

  /** Schedules the reversal of an allocation whose impact was cancelled at `cancelledAt`; idempotent. */
  reverse(fundsAllocationId: string, cancelledAt = this.now()): void {
    const original = this.state.records.find((r) => r.fundsAllocationId === fundsAllocationId && !r.reversal);
    if (!original || this.state.pending.some((p) => p.originalId === fundsAllocationId)) return;
    if (this.ledgerEntries(fundsAllocationId).length) return;
    const behaviour = this.state.behaviours[fundsAllocationId] ?? this.settings.reversalBehaviour;
    this.state.pending.push({
      originalId: fundsAllocationId,
      dueAt: cancelledAt + this.settings.reversalDelayMs,
      behaviour,
    });
    this.persist();
  }

  /** Moves due reversals into the feed; computed when observed, so it survives restarts without timers. */
  private appendDueReversals(): void {
    const due = this.state.pending.filter((p) => p.dueAt <= this.now());
    if (!due.length) return;
    this.state.pending = this.state.pending.filter((p) => p.dueAt > this.now());
    for (const { originalId, dueAt, behaviour } of due) {
      const original = this.state.records.find((r) => r.fundsAllocationId === originalId)!;
      if (behaviour === 'never') continue;
      const amounts = { ...original.amounts };
      if (behaviour === 'mismatch') amounts.total = Math.round((amounts.total - 1) * 100) / 100;
      const reversal: FundsAllocation = {
        ...original,
        fundsAllocationId: randomUUID(),
        fundsDateTime: new Date(dueAt).toISOString(),
        reversal: true,
        amounts,
      };
      this.state.records.push(reversal);
      this.record(originalId, 'reversal', { reversalId: reversal.fundsAllocationId, behaviour });
    }
  }

  protected routes(): SandboxRoute[] {
    return [
      {
        name: 'listAllocations',
        method: 'GET',
        path: '/v3/funds/allocations/impact',
        handle: ({ query }) => this.list(query),
      },
      {
        name: 'getAllocation',
        method: 'GET',
        path: '/v3/funds/allocations/:id/impact',
        handle: ({ params }) => {
          this.appendDueReversals();
          const record = this.state.records.find((r) => r.fundsAllocationId === params.id);
          return record
            ? { status: 200, body: record }
            : { status: 404, body: { code: 'not_found', message: `funds allocation ${params.id} not found` } };
        },
      },
    ];
  }

  private list(query: URLSearchParams): SandboxReply {
    const parsed = ListQuery.safeParse(Object.fromEntries(query));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = issue.path.map(String).join('.') || 'query';
      return { status: 400, body: { code: 'invalid_parameter', param, message: `${param} ${issue.message}` } };
    }
    this.appendDueReversals();
    const q = parsed.data;
    const from = Date.parse(q.dateTimeFrom);
    const to = Date.parse(q.dateTimeTo);
    const all = [...this.state.records].sort(byFeedOrder);
    const cursorId = q.startingAfter ?? q.endingBefore;
    const cursor = cursorId ? all.find((r) => r.fundsAllocationId === cursorId) : undefined;
    if (cursorId && !cursor) {
      const param = q.startingAfter ? 'startingAfter' : 'endingBefore';
      return {
        status: 400,
        body: { code: 'invalid_parameter', param, message: `${param} is not a known fundsAllocationId` },
      };
    }
    const inWindow = all.filter((r) => {
      const at = Date.parse(r.fundsDateTime);
      return (
        at >= from &&
        at < to &&
        (!q.consumerReference || r.consumerReference === q.consumerReference) &&
        (!q.fundsOrganisationId || r.fundsOrganisationId === q.fundsOrganisationId) &&
        (!q.impactPartnerId || [...r.credits, ...r.contribution].some((c) => c.impactPartnerId === q.impactPartnerId))
      );
    });
    if (q.endingBefore && cursor) {
      const before = inWindow.filter((r) => byFeedOrder(r, cursor) < 0);
      const data = before.slice(-q.limit);
      return { status: 200, body: { hasMore: before.length > data.length, data } };
    }
    const after = cursor ? inWindow.filter((r) => byFeedOrder(r, cursor) > 0) : inWindow;
    const data = after.slice(0, q.limit);
    return { status: 200, body: { hasMore: after.length > data.length, data } };
  }
}
