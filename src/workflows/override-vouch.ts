/**
 * The workflow side of vouched overrides (issue 13): a workflow interceptor module, carried by every bundle of the
 * saga (`WORKFLOW_INTERCEPTOR_MODULES`), hands the `refund-saga-vouch` header of an override signal or update to the
 * saga's handler, which has it checked by the `verifyOverride` local activity. Handlers do not see headers in this
 * SDK, so the header is passed through {@link takeOverrideVouch}, during the synchronous call from the interceptor into
 * the handler: nothing else runs in between, whatever else this workflow thread serves.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type {
  Next,
  SignalInput,
  UpdateInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { OVERRIDE_ACTIONS } from '../domain';

/** The header an override carries when the HTTP API vouches for it. */
export const VOUCH_HEADER = 'refund-saga-vouch';

/** The `ApplicationFailure` type of an override update the worker would not take: nobody vouched for its sender. */
export const UNVOUCHED = 'Unvouched';

/** What the saga says to someone whose override was not vouched for. */
export const UNVOUCHED_HINT =
  'send overrides through the HTTP API (or the refund-saga CLI with REFUND_SAGA_API_URL set), which vouches for them';

/**
 * The local activity that checks a vouch: short, a few attempts. It reads nothing remote, so a failure means a broken
 * worker; the override is then refused, never applied unchecked.
 */
export const overrideVerification = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
} as const;

/** What a header that the default payload converter cannot read is handed on as; the check calls it malformed. */
const UNREADABLE = 'unreadable vouch header';

const OVERRIDE_NAMES: ReadonlySet<string> = new Set(OVERRIDE_ACTIONS);

/** An override message as it arrived: what its vouch is checked against. */
export interface OverrideMessage {
  /** The decoded vouch header; `undefined` when the message carries none. */
  header: unknown;
  /** All of the message's arguments (the handler takes the first). */
  args: unknown[];
}

/** The override message being dispatched to its handler, set only for the length of that synchronous call. */
let dispatching: OverrideMessage | undefined;

/**
 * The override signal or update whose handler is running: call it first thing in the handler, before any `await`.
 * Outside such a call (a bundle without this interceptor module) it says `undefined`, and the vouch is missing.
 */
export function takeOverrideVouch(): OverrideMessage | undefined {
  const message = dispatching;
  dispatching = undefined;
  return message;
}

function decode(payload: Payload | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return UNREADABLE;
  }
}

/** Hands an override's header to its handler; every other message passes as it is. */
class OverrideVouchInbound implements WorkflowInboundCallsInterceptor {
  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return this.dispatch(input.signalName, input, () => next(input));
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return this.dispatch(input.name, input, () => next(input));
  }

  private dispatch<T>(name: string, input: SignalInput | UpdateInput, call: () => Promise<T>): Promise<T> {
    if (!OVERRIDE_NAMES.has(name)) return call();
    // No await here: the handler starts, and takes the message, inside `call()`.
    dispatching = { header: decode(input.headers[VOUCH_HEADER]), args: [...input.args] };
    try {
      return call();
    } finally {
      dispatching = undefined;
    }
  }
}

/** The interceptor module's factory (see `WORKFLOW_INTERCEPTOR_MODULES`). */
export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new OverrideVouchInbound()] });
