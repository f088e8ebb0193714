/**
 * The saga's worker options, for the worker entry point (`./main`), the dev stack and the tests: the provider
 * clients built once, the activities, the workflow code (the bundle prebuilt by `npm run build`, else bundled from
 * the sources at start, with the tracing interceptors either way) and Worker Deployment Versioning.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { workerConfig } from '../config';
import { overrideVouchKeys, type VouchKey } from '../security/vouch';
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

/** The workflow bundle `npm run build` writes next to the compiled package. */
export const PREBUILT_WORKFLOW_BUNDLE = join(__dirname, '..', 'workflow-bundle.js');

/**
 * The workflow interceptors every bundle of the saga carries: OpenTelemetry's, and the one that hands an override's
 * vouch header to the saga. A saga's code must not depend on whether tracing is on, or turning it on or off would
 * break the sagas in flight (their spans' interceptors change the order of commands); without an endpoint their spans
 * go to {@link NO_TRACING_SINKS}. The vouch interceptor comes last, next to the handlers: OpenTelemetry's may yield
 * before it calls on, the vouch interceptor must not.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
  // Without an extension: the bundler finds the .ts (sources) or the .js (dist/).
  join(__dirname, '..', 'workflows', 'override-vouch'),
];

/**
 * Node options of a worker process (`npm run worker`, the bench; `NODE_OPTIONS` elsewhere): a bounded heap, which the
 * workflow thread takes too. Without it V8 sizes each heap from the machine's memory (4 GiB on 24 GiB) and lets the
 * garbage of evicted sagas pile up to it: the worker's memory grows with every saga it has seen, flat only past 4 GiB.
 */
export const WORKER_NODE_OPTIONS = ['--max-old-space-size=512'];

/** Where the workflow's spans go while tracing is off: nowhere. */
export const NO_TRACING_SINKS: InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }> = {
  exporter: { export: { fn: () => undefined } },
};

/** A Worker Deployment Version: `deploymentName` and `buildId` (see `workerConfig`). */
export interface SagaWorkerVersion {
  deploymentName: string;
  buildId: string;
}

/**
 * Worker options for the saga. The workflow code is the prebuilt bundle when there is one (the compiled package),
 * else bundled from the sources at start (tsx, tests); a `workflowBundle` or `workflowsPath` in `overrides` wins.
 * With `version`, the worker joins that Worker Deployment Version and every saga it starts stays pinned to it. With
 * `tracing` (see `startTracing`), activities make spans and the workflow's spans are exported. With `vouchKeys`, the
 * sagas apply only overrides vouched for by one of them (see `src/security/vouch.ts`).
 */
export function sagaWorkerOptions(
  deps: ActivityDeps,
  overrides: Partial<WorkerOptions> & Pick<WorkerOptions, 'taskQueue'>,
  {
    version,
    tracing,
    vouchKeys = overrideVouchKeys(),
  }: {
    version?: SagaWorkerVersion;
    tracing?: Tracing;
    /**
     * The keys an override's vouch must be made with; `[]` applies every override.
     * @default the keys of `OVERRIDE_VOUCH_KEYS` (none when it is unset)
     */
    vouchKeys?: readonly VouchKey[];
  } = {},
): WorkerOptions {
  const workflowCode =
    overrides.workflowBundle || overrides.workflowsPath
      ? {}
      : existsSync(PREBUILT_WORKFLOW_BUNDLE)
        ? { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } }
        : { workflowsPath: require.resolve('../workflows') };
  return {
    ...workflowCode,
    activities: createActivities(deps, { vouchKeys }),
    ...(version && {
      workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' as const },
    }),
    // A bundle already holds the workflow interceptors; the worker only adds them when it bundles at start.
    interceptors: {
      ...tracing?.activityInterceptors,
      workflowModules: 'workflowBundle' in workflowCode ? [] : WORKFLOW_INTERCEPTOR_MODULES,
    },
    sinks: tracing?.sinks ?? NO_TRACING_SINKS,
    ...overrides,
  };
}

/** The worker options the settings tune: concurrency, the sticky queue and the workflow cache. */
export function workerTuning(
  settings: Pick<
    ReturnType<typeof workerConfig>,
    'maxConcurrentActivities' | 'maxConcurrentWorkflowTasks' | 'stickyQueueTimeoutMs' | 'maxCachedWorkflows'
  >,
) {
  return {
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
    stickyQueueScheduleToStartTimeout: settings.stickyQueueTimeoutMs,
    maxCachedWorkflows: settings.maxCachedWorkflows,
    shutdownGraceTime: '10s',
  };
}
