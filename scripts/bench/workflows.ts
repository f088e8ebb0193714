/**
 * The bench worker's workflows: the saga as production registers it, and `baselineRefund`, a bare workflow with the
 * saga's happy-path activity count (five activities, one HTTP GET each to a sandbox) and nothing else: no search
 * attributes, no patches, no heartbeats. With `waitMs` it then sleeps, as a waiting baseline for the memory phase.
 */
import { proxyActivities, sleep } from '@temporalio/workflow';
import { providerCall } from '../../src/workflows/activity-options';

export { refundSaga } from '../../src/workflows';

/** What the baseline reads: the same fixtures a saga's request names. */
export interface BaselineInput {
  paymentId: string;
  carbonOrderId: string;
  userId: string;
  timeUtc: string;
  fundsAllocationId: string;
  /** Sleep this long after the five reads (the memory phase's waiting point). */
  waitMs?: number;
}

/** The baseline's activities (`scripts/bench/worker.cjs`): each one GET, answering the HTTP status. */
export interface BaselineActivities {
  baselineReadPayment(input: { paymentId: string }): Promise<number>;
  baselineReadSettlement(input: { paymentId: string }): Promise<number>;
  baselineReadCarbonOrder(input: { orderId: string }): Promise<number>;
  baselineReadImpact(input: { userId: string; timeUtc: string }): Promise<number>;
  baselineReadAllocation(input: { fundsAllocationId: string }): Promise<number>;
}

const read = proxyActivities<BaselineActivities>({
  startToCloseTimeout: providerCall.startToCloseTimeout,
  retry: providerCall.retry,
});

/** Five reads in the saga's order (payment, its settlement, carbon, impact, recon), then an optional sleep. */
export async function baselineRefund(input: BaselineInput): Promise<void> {
  await read.baselineReadPayment({ paymentId: input.paymentId });
  await read.baselineReadSettlement({ paymentId: input.paymentId });
  await read.baselineReadCarbonOrder({ orderId: input.carbonOrderId });
  await read.baselineReadImpact({ userId: input.userId, timeUtc: input.timeUtc });
  await read.baselineReadAllocation({ fundsAllocationId: input.fundsAllocationId });
  if (input.waitMs) await sleep(input.waitMs);
}
