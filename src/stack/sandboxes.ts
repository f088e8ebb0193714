/**
 * The five provider sandboxes in one process, with the 1ClickImpact sandbox linked to the recon sandbox so that
 * cancelling an impact schedules its reversal.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxConfig } from '../config';
import { CircleSandbox } from '../providers/circle/sandbox';
import { ImpactReconSandbox } from '../providers/impact-recon/sandbox';
import { OneClickImpactSandbox } from '../providers/one-click-impact/sandbox';
import { SquakeSandbox } from '../providers/squake/sandbox';
import { StripeClimateSandbox } from '../providers/stripe-climate/sandbox';

/** The running sandboxes, their base URLs, and a way to stop them all. */
export interface RunningSandboxes {
  circle: CircleSandbox;
  stripeClimate: StripeClimateSandbox;
  squake: SquakeSandbox;
  oneClickImpact: OneClickImpactSandbox;
  impactRecon: ImpactReconSandbox;
  urls: Record<'circle' | 'stripeClimate' | 'squake' | 'oneClickImpact' | 'impactRecon', string>;
  close(): Promise<void>;
}

/** Starts all five sandboxes; port 0 picks free ports (tests). */
export async function startSandboxes(
  config: Pick<SandboxConfig, 'host' | 'ports'> & { stateDir?: string },
  log?: (line: string) => void,
): Promise<RunningSandboxes> {
  if (config.stateDir) mkdirSync(config.stateDir, { recursive: true });
  const options = (name: string) => ({
    log,
    statePath: config.stateDir ? join(config.stateDir, `${name}.json`) : undefined,
  });
  const impactRecon = new ImpactReconSandbox(options('impact-recon'));
  const sandboxes = {
    circle: new CircleSandbox(options('circle')),
    stripeClimate: new StripeClimateSandbox(options('stripe-climate')),
    squake: new SquakeSandbox(options('squake')),
    oneClickImpact: new OneClickImpactSandbox({
      ...options('one-click-impact'),
      onCancelled: ({ fundsAllocationId, cancelledAt }) => {
        if (fundsAllocationId) impactRecon.reverse(fundsAllocationId, cancelledAt);
      },
    }),
    impactRecon,
  };
  const started: Array<{ close(): Promise<void> }> = [];
  const urls = {} as RunningSandboxes['urls'];
  try {
    for (const name of Object.keys(sandboxes) as Array<keyof typeof sandboxes>) {
      urls[name] = await sandboxes[name].listen(config.ports[name], config.host);
      started.push(sandboxes[name]);
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
  return { ...sandboxes, urls, close: async () => void (await Promise.all(started.map((s) => s.close()))) };
}
