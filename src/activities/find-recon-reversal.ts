/** Reads the recon feed for the reversal of the original funds allocation. */
import { Context } from '@temporalio/activity';
import type { ImpactReconClient } from '../providers/impact-recon/client';
import { findReversal } from '../providers/impact-recon/reversal';
import type { FundsAllocation } from '../providers/impact-recon/schemas';
import { rethrowProviderError } from './failures';

export interface FindReconReversalInput {
  fundsAllocationId: string;
  consumerReference: string;
  /** ISO time the window starts at: the impact's cancellation minus a skew margin. */
  since: string;
}

export type ReconLookup =
  | { kind: 'matched'; recordId: string; fundsDateTime: string; scanned: number }
  | { kind: 'mismatched'; recordId: string; differences: string[]; scanned: number }
  | { kind: 'none'; scanned: number };

export function reconActivities(impactRecon: ImpactReconClient) {
  return {
    /**
     * Reads every page of the window and reports a matching reversal, a mismatched one, or none yet. Heartbeats after
     * each page past the first (and, like every activity, while a call runs long: `./heartbeat`).
     */
    findReconReversal: async (input: FindReconReversalInput): Promise<ReconLookup> => {
      const { cancellationSignal: signal } = Context.current();
      try {
        const original = await impactRecon.getImpactAllocation(input.fundsAllocationId, { signal });
        const records: FundsAllocation[] = [];
        const query = {
          dateTimeFrom: input.since,
          // Exclusive upper bound: one second ahead so a record stamped "now" is included.
          dateTimeTo: new Date(Date.now() + 1000).toISOString(),
          consumerReference: input.consumerReference,
          limit: 100,
        };
        let pages = 0;
        for await (const page of impactRecon.pages(query, { signal })) {
          records.push(...page.data);
          // A read of several pages says it is alive between them; a one-page read (each poll, mostly) costs none.
          if (++pages > 1) Context.current().heartbeat({ pages, records: records.length });
        }
        const match = findReversal(original, records);
        if (match.kind === 'matched') {
          return {
            kind: 'matched',
            recordId: match.record.fundsAllocationId,
            fundsDateTime: match.record.fundsDateTime,
            scanned: records.length,
          };
        }
        if (match.kind === 'mismatched') {
          return {
            kind: 'mismatched',
            recordId: match.record.fundsAllocationId,
            differences: match.differences,
            scanned: records.length,
          };
        }
        return { kind: 'none', scanned: records.length };
      } catch (err) {
        rethrowProviderError(err);
      }
    },
  };
}
