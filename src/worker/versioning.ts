/**
 * Worker Deployment Versioning (https://docs.temporal.io/worker-deployments): which version of the saga's worker
 * deployment gets new sagas. Each saga stays pinned to the version that started it, so a deploy that changes workflow
 * code never replays a saga in flight on code it did not start with.
 */
import type { NativeConnection } from '@temporalio/worker';
import type { SagaWorkerVersion } from './index';

type Service = NativeConnection['workflowService'];

/** The build id new sagas go to, or undefined while the deployment has none (or does not exist yet). */
export async function currentBuildId(
  service: Service,
  namespace: string,
  deploymentName: string,
): Promise<string | undefined> {
  try {
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace, deploymentName });
    return workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId || undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 5) return undefined; // NOT_FOUND: no worker of it has polled yet
    throw err;
  }
}

/**
 * Sends new sagas to `version` (what `temporal worker deployment set-current-version` does), waiting up to
 * `timeoutMs` for a worker of it to have polled: the server refuses a version without one. Sagas already running stay
 * on their own version until they end.
 */
export async function setCurrentVersion(
  service: Service,
  namespace: string,
  version: SagaWorkerVersion,
  identity: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity,
      });
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`could not make worker version ${version.buildId} current: ${String(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The command that makes `version` current, for log lines and the README. */
export function setCurrentCommand(version: SagaWorkerVersion): string {
  return `temporal worker deployment set-current-version --deployment-name ${version.deploymentName} --build-id ${version.buildId}`;
}
