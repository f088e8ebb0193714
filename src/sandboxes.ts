/**
 * `refund-saga/sandboxes`: the five provider sandboxes, for local stacks and tests. Kept out of the root entry, so a
 * production process never loads them.
 */
export { startSandboxes, type RunningSandboxes } from './stack/sandboxes';
export { CircleSandbox } from './providers/circle/sandbox';
export { StripeClimateSandbox } from './providers/stripe-climate/sandbox';
export { SquakeSandbox } from './providers/squake/sandbox';
export { OneClickImpactSandbox } from './providers/one-click-impact/sandbox';
export { ImpactReconSandbox } from './providers/impact-recon/sandbox';
