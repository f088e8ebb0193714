/** Reads a sandbox's ledger over HTTP, as the chaos suite does. */
import type { LedgerEntry } from '../../src/providers/sandbox-server';

/** The body of `GET /_sandbox/ledger`. */
export interface LedgerView {
  counts: Record<string, Record<string, number>>;
  duplicateAttempts: Record<string, number>;
  entries: LedgerEntry[];
}

/** `GET /_sandbox/ledger` of the sandbox at `baseUrl`, for one resource. */
export async function readLedger(baseUrl: string, resource: string): Promise<LedgerView> {
  const response = await fetch(`${baseUrl}/_sandbox/ledger?resource=${encodeURIComponent(resource)}`);
  return (await response.json()) as LedgerView;
}
