/**
 * `verifyOverride`: the local activity the saga runs before it applies an override, so the worker's answer (and not
 * its configuration at replay) is what history holds. Node only; see `src/security/vouch.ts`.
 */
import { Context } from '@temporalio/activity';
import { verifyVouch, type VouchKey } from '../security/vouch';

/** An override message as the saga received it. */
export interface VerifyOverrideInput {
  workflowId: string;
  /** The override's name (`skipStep`, …). */
  name: string;
  /** The decoded `refund-saga-vouch` header; `undefined` when the message carried none. */
  header: unknown;
  /** The message's arguments. */
  args: unknown[];
}

/** Whether to apply it; written to history, so it holds no personal data (reasons name keys and fields only). */
export interface OverrideVerdict {
  /** Apply it: vouched for, or this worker requires no vouch. */
  accepted: boolean;
  /** A key of this worker vouched for it. */
  vouched: boolean;
  /** Why it was not vouched for, when it was not accepted. */
  reason?: string;
}

/** The activity, over the worker's vouching keys; with none, every override is accepted (unvouched). */
export function overrideVerificationActivities(keys: readonly VouchKey[] = []) {
  return {
    verifyOverride(input: VerifyOverrideInput): Promise<OverrideVerdict> {
      if (!keys.length) return Promise.resolve({ accepted: true, vouched: false });
      const verdict = verifyVouch(keys, {
        namespace: Context.current().info.namespace,
        workflowId: input.workflowId,
        name: input.name,
        header: input.header,
        args: input.args,
        now: new Date(),
      });
      return Promise.resolve(
        verdict.vouched
          ? { accepted: true, vouched: true }
          : { accepted: false, vouched: false, reason: verdict.reason },
      );
    },
  };
}
