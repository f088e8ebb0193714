/** `createActivities(deps)`: every provider step of the saga, over clients built once by the worker. */
import type { CircleClient } from '../providers/circle/client';
import type { ImpactReconClient } from '../providers/impact-recon/client';
import type { OneClickImpactClient } from '../providers/one-click-impact/client';
import type { SquakeClient } from '../providers/squake/client';
import type { StripeClimateClient } from '../providers/stripe-climate/client';
import type { VouchKey } from '../security/vouch';
import { carbonOrderActivities } from './cancel-carbon-order';
import { circlePaymentActivities } from './cancel-circle-payment';
import { impactActivities } from './cancel-impact';
import { heartbeating } from './heartbeat';
import { reconActivities } from './find-recon-reversal';
import { overrideVerificationActivities } from './verify-override';

/** The provider clients the activities call. */
export interface ActivityDeps {
  circle: CircleClient;
  stripeClimate: StripeClimateClient;
  squake: SquakeClient;
  oneClickImpact: OneClickImpactClient;
  impactRecon: ImpactReconClient;
}

/** What the activities take besides the provider clients. */
export interface CreateActivitiesOptions {
  /**
   * The keys whose vouch an override must carry (`OVERRIDE_VOUCH_KEYS`, see `overrideVouchKeys`).
   * @default [] (every override is applied, vouched for or not)
   */
  vouchKeys?: readonly VouchKey[];
}

/** Builds the saga's activities; no module-level singletons, so tests and workers wire their own clients. */
export function createActivities(deps: ActivityDeps, options: CreateActivitiesOptions = {}) {
  return {
    ...heartbeating({
      ...circlePaymentActivities(deps.circle),
      ...carbonOrderActivities(deps),
      ...impactActivities(deps.oneClickImpact),
      ...reconActivities(deps.impactRecon),
    }),
    // A local activity, which cannot heartbeat; it answers at once.
    ...overrideVerificationActivities(options.vouchKeys),
  };
}

/** The activity interface the workflow proxies. */
export type RefundActivities = ReturnType<typeof createActivities>;
export type { CancelCirclePaymentInput, CircleCancelState, ReadCirclePaymentInput } from './cancel-circle-payment';
export type { CarbonCancelResult } from './cancel-carbon-order';
export type { ImpactCancelResult } from './cancel-impact';
export type { ReconLookup } from './find-recon-reversal';
export type { OverrideVerdict, VerifyOverrideInput } from './verify-override';
