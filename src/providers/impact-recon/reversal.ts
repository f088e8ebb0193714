/**
 * How the saga recognises the reversal of a funds allocation in the recon feed (docs/design.md, "The saga", step 5;
 * docs/providers.md, "Impact reconciliation: funds allocations").
 */
import type { AllocationAmounts, FundsAllocation } from './schemas';

const AMOUNT_FIELDS = ['total', 'impact', 'impactTax', 'serviceFee', 'serviceFeeTax'] as const;

/** The outcome of looking for a reversal among records. */
export type ReversalMatch =
  | { kind: 'matched'; record: FundsAllocation }
  | { kind: 'mismatched'; record: FundsAllocation; differences: string[] }
  | { kind: 'none' };

/** Compares amounts to the cent, so `12.6` and `12.60` agree and float noise does not matter. */
function amountDifferences(expected: AllocationAmounts, actual: AllocationAmounts): string[] {
  return AMOUNT_FIELDS.filter((f) => Math.round(expected[f] * 100) !== Math.round(actual[f] * 100)).map(
    (f) => `${f}: expected ${expected[f]}, found ${actual[f]}`,
  );
}

/**
 * Finds the reversal of `original` among `records`: `reversal: true`, the same `quoteId` and `consumerReference`.
 * A candidate whose amounts differ is reported as a mismatch unless a matching one exists.
 */
export function findReversal(original: FundsAllocation, records: Iterable<FundsAllocation>): ReversalMatch {
  let mismatch: ReversalMatch | undefined;
  for (const record of records) {
    if (
      !record.reversal ||
      record.quoteId !== original.quoteId ||
      record.consumerReference !== original.consumerReference
    )
      continue;
    if (record.fundsAllocationId === original.fundsAllocationId) continue;
    const differences = amountDifferences(original.amounts, record.amounts);
    if (differences.length === 0) return { kind: 'matched', record };
    mismatch ??= { kind: 'mismatched', record, differences };
  }
  return mismatch ?? { kind: 'none' };
}
