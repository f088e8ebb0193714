/**
 * Finance's view: the refunds that completed over a date range, with what each provider reported reversing, the fees
 * it kept and the recon record, their totals, and the same rows as CSV. Every figure is a provider's own, read from
 * the saga's result; none is computed but the totals.
 */
import type { Client } from '@temporalio/client';
import Big from 'big.js';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { InvalidRequestError, toFieldIssues, type RefundResult } from '../domain';
import { forEachBounded } from '../client';

/** Refunds read at most for one range: more are left out, and the view says so. */
export const FINANCE_LIMIT = 1000;
/** Results read at once. */
const RESULT_CONCURRENCY = 8;
const DAY_MS = 86_400_000;

const day = z.iso.date({ error: 'must be a date such as 2026-11-24' });

/** The range's query string: `from` and `to` are UTC days, both included. @default the last 30 days */
export const FinanceRangeSchema = z
  .strictObject({ from: day.optional(), to: day.optional() })
  .transform(({ from, to }) => {
    const toDay = to ?? new Date().toISOString().slice(0, 10);
    const fromDay = from ?? new Date(Date.parse(toDay) - 29 * DAY_MS).toISOString().slice(0, 10);
    return { from: fromDay, to: toDay };
  })
  .refine(({ from, to }) => from <= to, { error: 'must not be after `to`', path: ['from'] });
export type FinanceRange = z.output<typeof FinanceRangeSchema>;

/** One completed refund, as finance reads it. */
export interface FinanceRow {
  orderId: string;
  completedAt: string;
  result: RefundResult;
}

/** Sums by currency, as decimal strings. */
export type Totals = Record<string, string>;

/** The totals of a range: what the payments reversed, what the carbon providers refunded and kept, the impact undone. */
export interface FinanceTotals {
  paymentReversed: Totals;
  carbonRefunded: Totals;
  carbonFeesKept: Totals;
  trees: number;
  carbonLbs: number;
  wasteLbs: number;
}

/** Parses the range, naming a bad field with `InvalidRequestError`. */
export function financeRange(query: unknown): FinanceRange {
  const parsed = FinanceRangeSchema.safeParse(query);
  if (!parsed.success) throw new InvalidRequestError(toFieldIssues(parsed.error));
  return parsed.data;
}

/**
 * The refunds whose saga completed (outcome `completed`) within the range, newest first, up to {@link FINANCE_LIMIT};
 * `capped` when more did.
 */
export async function completedRefunds(
  client: Client,
  range: FinanceRange,
): Promise<{ rows: FinanceRow[]; capped: boolean }> {
  const end = new Date(Date.parse(range.to) + DAY_MS).toISOString();
  const query = [
    `WorkflowType = 'refundSaga'`,
    `ExecutionStatus = 'Completed'`,
    `RefundStatus = 'completed'`,
    `CloseTime >= '${new Date(range.from).toISOString()}'`,
    `CloseTime < '${end}'`,
  ].join(' AND ');
  const runs: Array<{ workflowId: string; runId: string }> = [];
  let capped = false;
  for await (const run of client.workflow.list({ query, pageSize: 100 })) {
    if (runs.length === FINANCE_LIMIT) {
      capped = true;
      break;
    }
    runs.push({ workflowId: run.workflowId, runId: run.runId });
  }
  const rows: FinanceRow[] = [];
  await forEachBounded(runs, RESULT_CONCURRENCY, async ({ workflowId, runId }) => {
    const result = (await client.workflow.getHandle(workflowId, runId).result()) as RefundResult;
    rows.push({ orderId: result.orderId, completedAt: result.completedAt, result });
  });
  rows.sort((a, b) => b.completedAt.localeCompare(a.completedAt) || a.orderId.localeCompare(b.orderId));
  return { rows, capped };
}

const add = (totals: Totals, amount: { value: string; currency: string } | undefined) => {
  if (amount) totals[amount.currency] = new Big(totals[amount.currency] ?? 0).plus(amount.value).toFixed(2);
};

/** The totals of `rows`: only what a provider reported moving counts, so skipped steps add nothing. */
export function financeTotals(rows: readonly FinanceRow[]): FinanceTotals {
  const totals: FinanceTotals = {
    paymentReversed: {},
    carbonRefunded: {},
    carbonFeesKept: {},
    trees: 0,
    carbonLbs: 0,
    wasteLbs: 0,
  };
  for (const { result } of rows) {
    if (result.payment.outcome === 'reversed' || result.payment.outcome === 'already_reversed')
      add(totals.paymentReversed, result.payment.amount);
    add(totals.carbonRefunded, result.carbon.refunded);
    add(totals.carbonFeesKept, result.carbon.feesNotRefunded);
    totals.trees += result.impact.reversed?.trees ?? 0;
    totals.carbonLbs += result.impact.reversed?.carbonLbs ?? 0;
    totals.wasteLbs += result.impact.reversed?.wasteLbs ?? 0;
  }
  return totals;
}

/** The CSV's columns, in order. */
export const FINANCE_CSV_COLUMNS = [
  'order_id',
  'completed_at',
  'payment_outcome',
  'payment_id',
  'payment_cancel_id',
  'payment_settlement',
  'payment_reversed',
  'payment_currency',
  'carbon_provider',
  'carbon_outcome',
  'carbon_resource_id',
  'carbon_refunded',
  'carbon_fees_kept',
  'carbon_currency',
  'carbon_tonnes',
  'impact_outcome',
  'impact_trees',
  'impact_carbon_lbs',
  'impact_waste_lbs',
  'recon_outcome',
  'recon_record_id',
  'recon_funds_datetime',
  'recon_evidence',
  'overrides',
] as const;

/** A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is quoted with `'`. */
const inert = (value: string) => (/^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value);

/** The rows as CSV (RFC 4180, a header line first); amounts as the providers reported them. */
export function financeCsv(rows: readonly FinanceRow[]): string {
  const records = rows.map(({ result: r, completedAt }) => {
    const reversed = r.payment.outcome === 'reversed' || r.payment.outcome === 'already_reversed';
    return [
      r.orderId,
      completedAt,
      r.payment.outcome,
      r.payment.paymentId,
      r.payment.cancelId,
      r.payment.settlement,
      reversed ? r.payment.amount?.value : undefined,
      reversed ? r.payment.amount?.currency : undefined,
      r.carbon.provider,
      r.carbon.outcome,
      r.carbon.resourceId,
      r.carbon.refunded?.value,
      r.carbon.feesNotRefunded?.value,
      r.carbon.refunded?.currency ?? r.carbon.feesNotRefunded?.currency,
      r.carbon.tonnes,
      r.impact.outcome,
      r.impact.reversed?.trees,
      r.impact.reversed?.carbonLbs,
      r.impact.reversed?.wasteLbs,
      r.recon.outcome,
      r.recon.recordId,
      r.recon.fundsDateTime,
      r.recon.evidence,
      r.overrides
        .map((o) => `${o.action}${o.step ? ` ${o.step}` : ''} by ${o.operator} at ${o.at}: ${o.reason}`)
        .join('; '),
    ].map((cell) => (typeof cell === 'string' ? inert(cell) : cell));
  });
  return stringify(records, { header: true, columns: [...FINANCE_CSV_COLUMNS], record_delimiter: 'windows' });
}
