/**
 * Heartbeats for provider calls. An attempt whose worker dies is otherwise noticed only when its start-to-close
 * timeout runs out (30 s for a cancel); with a heartbeat timeout it is retried, on a live worker, within seconds.
 */
import { Context } from '@temporalio/activity';

/** How often a call that is still running heartbeats; well inside the workflow's `heartbeatTimeout` (6 s). */
export const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Runs `call`, heartbeating every second once it has run for a second: most provider calls answer sooner and cost no
 * heartbeat, a slow one (a provider timing out, recon pages) keeps its attempt alive and receives cancellation.
 */
export async function whileHeartbeating<T>(call: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_INTERVAL_MS);
  try {
    return await call();
  } finally {
    clearInterval(timer);
  }
}

/** `activities` with each one run {@link whileHeartbeating}. */
export function heartbeating<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
  return Object.fromEntries(
    Object.entries(activities).map(([name, activity]) => [
      name,
      (...args: Parameters<typeof activity>) => whileHeartbeating(() => activity(...args)),
    ]),
  ) as A;
}
