/** Impact reconciliation bodies (docs/providers.md, "Impact reconciliation: funds allocations"). */
import { z } from 'zod';
import { Timestamp } from '../timestamp';

const Amounts = z.object({
  total: z.number(),
  impact: z.number(),
  impactTax: z.number(),
  serviceFee: z.number(),
  serviceFeeTax: z.number(),
});

const PartnerLine = z.object({
  impactPartnerId: z.string(),
  projectId: z.string().optional(),
  amounts: z.object({ impact: z.number(), impactTax: z.number(), impactTaxRate: z.number() }),
  unit: z.object({ description: z.string(), quantity: z.number() }),
});

/** One impact recon record. */
export const FundsAllocationSchema = z.object({
  fundsAllocationId: z.string(),
  quoteId: z.string(),
  fundsDateTime: Timestamp,
  consumerReference: z.string(),
  fundsOrganisationId: z.string(),
  fundsOrganisationReference: z.string().optional(),
  collectionOrganisationId: z.string().optional(),
  fundsCurrencyCode: z.string(),
  reversal: z.boolean(),
  taxLiability: z.string().optional(),
  amounts: Amounts,
  merchant: z.object({ name: z.string() }).loose().optional(),
  credits: z.array(PartnerLine).default([]),
  contribution: z.array(PartnerLine).default([]),
});
export type FundsAllocation = z.infer<typeof FundsAllocationSchema>;
export type AllocationAmounts = z.infer<typeof Amounts>;

/** A page of `GET /v3/funds/allocations/impact`. */
export const FundsAllocationPageSchema = z.object({ hasMore: z.boolean(), data: z.array(FundsAllocationSchema) });
export type FundsAllocationPage = z.infer<typeof FundsAllocationPageSchema>;

/** Query of the list endpoint. `dateTimeFrom` is inclusive, `dateTimeTo` exclusive; one cursor at most. */
export interface FundsAllocationQuery {
  dateTimeFrom: string;
  dateTimeTo: string;
  consumerReference?: string;
  impactPartnerId?: string;
  fundsOrganisationId?: string;
  /** 1–100. */
  limit?: number;
  startingAfter?: string;
  endingBefore?: string;
}

/** The recon feed's error body. */
export const ReconErrorSchema = z
  .object({ code: z.string(), message: z.string(), param: z.string().optional() })
  .loose();
