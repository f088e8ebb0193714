/**
 * The saga's worker options, for the worker entry point (`./main`), the dev stack and the tests: the provider
 * clients built once, the activities, the workflow code (the bundle prebuilt by `npm run build`, else bundled from
 * the sources at start) and Worker Deployment Versioning.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { Tracing } from '../telemetry';
import { CircleClient, type CircleClientConfig } from '../providers/circle/client';
import { ImpactReconClient, type ImpactReconClientConfig } from '../providers/impact-recon/client';
import { OneClickImpactClient, type OneClickImpactClientConfig } from '../providers/one-click-impact/client';
import { SquakeClient, type SquakeClientConfig } from '../providers/squake/client';
import { StripeClimateClient, type StripeClimateClientConfig } from '../providers/stripe-climate/client';

/** The provider clients, built once per worker. */
export function buildClients(config: {
  circle: CircleClientConfig;
  stripeClimate: StripeClimateClientConfig;
  squake: SquakeClientConfig;
  oneClickImpact: OneClickImpactClientConfig;
  impactRecon: ImpactReconClientConfig;
}): ActivityDeps {
  return {
    circle: new CircleClient(config.circle),
    stripeClimate: new StripeClimateClient(config.stripeClimate),
    squake: new SquakeClient(config.squake),
    oneClickImpact: new OneClickImpactClient(config.oneClickImpact),
    impactRecon: new ImpactReconClient(config.impactRecon),
  };
}

/** The workflow bundles `npm run build` writes next to the compiled package: plain, and with tracing interceptors. */
export const PREBUILT_WORKFLOW_BUNDLE = join(__dirname, '..', 'workflow-bundle.js');
const PREBUILT_TRACED_WORKFLOW_BUNDLE = join(__dirname, '..', 'workflow-bundle-traced.js');

/** A Worker Deployment Version: `deploymentName` and `buildId` (see `workerConfig`). */
export interface SagaWorkerVersion {
  deploymentName: string;
  buildId: string;
}

/**
 * Worker options for the saga. The workflow code is the prebuilt bundle when there is one (the compiled package),
 * else bundled from the sources at start (tsx, tests); a `workflowBundle` or `workflowsPath` in `overrides` wins.
 * With `version`, the worker joins that Worker Deployment Version and every saga it starts stays pinned to it. With
 * `tracing` (see `startTracing`), activities and workflows make spans, on the traced bundle.
 */
export function sagaWorkerOptions(
  deps: ActivityDeps,
  overrides: Partial<WorkerOptions> & Pick<WorkerOptions, 'taskQueue'>,
  { version, tracing }: { version?: SagaWorkerVersion; tracing?: Tracing } = {},
): WorkerOptions {
  const prebuilt = tracing ? PREBUILT_TRACED_WORKFLOW_BUNDLE : PREBUILT_WORKFLOW_BUNDLE;
  const workflowCode =
    overrides.workflowBundle || overrides.workflowsPath
      ? {}
      : existsSync(prebuilt)
        ? { workflowBundle: { codePath: prebuilt } }
        : { workflowsPath: require.resolve('../workflows') };
  return {
    ...workflowCode,
    activities: createActivities(deps),
    ...(version && {
      workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' as const },
    }),
    ...(tracing && {
      sinks: tracing.worker.sinks,
      // A bundle already holds the workflow interceptors; the worker only adds them when it bundles at start.
      interceptors: workflowCode.workflowBundle
        ? { ...tracing.worker.interceptors, workflowModules: [] }
        : tracing.worker.interceptors,
    }),
    ...overrides,
  };
}
