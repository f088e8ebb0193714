import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  FINANCE_CSV_COLUMNS,
  financeCsv,
  financeRange,
  financeTotals,
  type FinanceRow,
} from '../../src/console/finance';
import { InvalidRequestError, type RefundResult } from '../../src/domain';

function refund(orderId: string, changes: Partial<RefundResult> = {}): FinanceRow {
  const result: RefundResult = {
    orderId,
    outcome: 'completed',
    payment: {
      outcome: 'reversed',
      paymentId: 'b8627ae8-732b-4d25-b947-1df8f4007a29',
      cancelId: 'cancel-1',
      settlement: 'confirmed',
      amount: { value: '0.10', currency: 'USD' },
    },
    carbon: {
      outcome: 'reversed',
      provider: 'stripe_climate',
      resourceId: 'climorder_1',
      refunded: { value: '0.20', currency: 'USD' },
      feesNotRefunded: { value: '0.17', currency: 'USD' },
      tonnes: '0.01',
    },
    impact: { outcome: 'reversed', reversed: { trees: 3 } },
    recon: { outcome: 'reversed', recordId: 'rev-1', fundsDateTime: '2026-11-24T00:05:00Z' },
    leftForManualHandling: [],
    overrides: [],
    startedAt: '2026-11-24T00:00:00.000Z',
    completedAt: '2026-11-24T00:06:00.000Z',
    ...changes,
  };
  return { orderId, completedAt: result.completedAt, result };
}

describe("finance's date range", () => {
  it('defaults to the last 30 days, today included', () => {
    const today = new Date().toISOString().slice(0, 10);
    const { from, to } = financeRange({});
    expect(to).toBe(today);
    expect((Date.parse(to) - Date.parse(from)) / 86_400_000).toBe(29);
  });

  it('names the bad field: a date that is not one, or a start after the end', () => {
    const issues = (query: unknown) => {
      try {
        financeRange(query);
      } catch (err) {
        if (err instanceof InvalidRequestError) return err.issues.map((i) => i.path);
        throw err;
      }
      return [];
    };
    expect(issues({ from: '2026-13-01' })).toEqual(['from']);
    expect(issues({ to: 'yesterday' })).toEqual(['to']);
    expect(issues({ from: '2026-11-24', to: '2026-11-01' })).toEqual(['from']);
    expect(issues({ from: '2026-11-01', to: '2026-11-24', extra: '1' })).toEqual(['(root)']);
    expect(financeRange({ from: '2026-11-01', to: '2026-11-01' })).toEqual({ from: '2026-11-01', to: '2026-11-01' });
  });
});

describe("finance's totals and CSV", () => {
  it('sums decimal amounts exactly, by currency, and only what a provider reported reversing', () => {
    const rows = [
      refund('ord_1'),
      refund('ord_2'),
      refund('ord_3', {
        carbon: { outcome: 'reversed', provider: 'squake', refunded: { value: '12.50', currency: 'EUR' } },
      }),
      // A payment skipped by an operator moved no money through the saga.
      refund('ord_4', { payment: { outcome: 'skipped', paymentId: 'p', amount: { value: '99.00', currency: 'USD' } } }),
    ];
    expect(financeTotals(rows)).toEqual({
      paymentReversed: { USD: '0.30' },
      carbonRefunded: { USD: '0.60', EUR: '12.50' },
      carbonFeesKept: { USD: '0.51' },
      trees: 12,
      carbonLbs: 0,
      wasteLbs: 0,
    });
  });

  it('writes one row per refund under the documented header, quoting what needs quoting', () => {
    const rows = [
      refund('ord_1', {
        recon: { outcome: 'confirmed_by_operator', evidence: 'FIN-1, "checked"\nwith finance' },
        overrides: [
          {
            action: 'confirmRecon',
            step: 'recon',
            operator: 'alice',
            reason: 'short by a fee',
            at: '2026-11-24T00:05:30Z',
          },
        ],
      }),
    ];
    const csv = financeCsv(rows);
    const parsed = parse<Record<string, string>>(csv, { columns: true });
    expect(Object.keys(parsed[0]!)).toEqual([...FINANCE_CSV_COLUMNS]);
    expect(parsed[0]).toMatchObject({
      order_id: 'ord_1',
      payment_reversed: '0.10',
      payment_currency: 'USD',
      carbon_refunded: '0.20',
      carbon_fees_kept: '0.17',
      impact_trees: '3',
      recon_outcome: 'confirmed_by_operator',
      recon_evidence: 'FIN-1, "checked"\nwith finance',
      overrides: 'confirmRecon recon by alice at 2026-11-24T00:05:30Z: short by a fee',
    });
    expect(csv.split('\r\n')[0]).toBe(FINANCE_CSV_COLUMNS.join(','));
  });

  it('keeps a spreadsheet from running a cell as a formula, and leaves amounts alone', () => {
    const csv = financeCsv([
      refund('ord_1', { recon: { outcome: 'confirmed_by_operator', evidence: '=HYPERLINK("http://x","y")' } }),
      refund('ord_2', { recon: { outcome: 'confirmed_by_operator', evidence: '-5.00' } }),
    ]);
    const [first, second] = parse<Record<string, string>>(csv, { columns: true });
    expect(first!.recon_evidence).toBe(`'=HYPERLINK("http://x","y")`);
    expect(second!.recon_evidence).toBe('-5.00');
  });
});
