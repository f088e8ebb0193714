/** A tiny workflow that proves the test harness: it sleeps on a durable timer and reports the server time it saw. */
import { proxyActivities, sleep } from '@temporalio/workflow';

export interface HarnessProbeActivities {
  echo(value: string): Promise<string>;
}

const { echo } = proxyActivities<HarnessProbeActivities>({ startToCloseTimeout: '10s' });

/** Sleeps `sleepMs` of workflow time, then echoes through an activity; returns the elapsed workflow time. */
export async function harnessProbe(sleepMs: number, message: string): Promise<{ elapsedMs: number; echoed: string }> {
  const started = Date.now();
  await sleep(sleepMs);
  const echoed = await echo(message);
  return { elapsedMs: Date.now() - started, echoed };
}
