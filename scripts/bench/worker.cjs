// The bench worker, run with plain `node` against the compiled package (dist/), as production runs it: the saga's
// worker options (sagaWorkerOptions, workerTuning(workerConfig())) with the bench's workflow bundle
// (BENCH_WORKFLOW_BUNDLE: the saga and the baseline, with the production interceptors) and the saga's activities plus
// the baseline's (one plain fetch GET each). Settings come from the environment as for `refund-saga worker`.
'use strict';
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const { buildClients, sagaWorkerOptions, workerTuning } = require('../../dist/worker/index.js');
const { providerConfig, temporalConfig, workerConfig } = require('../../dist/config.js');
const { createActivities } = require('../../dist/activities/index.js');

/** One GET; a non-2xx answer fails the attempt (Temporal retries it). Resolves with the HTTP status. */
async function get(url, headers, timeoutMs) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  await response.text();
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.status;
}

function baselineActivities(p) {
  const circle = { authorization: `Bearer ${p.circle.apiKey}` };
  return {
    baselineReadPayment: ({ paymentId }) =>
      get(`${p.circle.baseUrl}/v1/payments/${paymentId}`, circle, p.circle.timeoutMs),
    baselineReadSettlement: ({ paymentId }) =>
      get(`${p.circle.baseUrl}/v1/payments/${paymentId}`, circle, p.circle.timeoutMs),
    baselineReadCarbonOrder: ({ orderId }) =>
      get(
        `${p.stripeClimate.baseUrl}/v1/climate/orders/${orderId}`,
        { authorization: `Bearer ${p.stripeClimate.secretKey}` },
        p.stripeClimate.timeoutMs,
      ),
    baselineReadImpact: ({ userId, timeUtc }) =>
      get(
        `${p.oneClickImpact.baseUrl}/v1/track?${new URLSearchParams({ user_id: userId, time_utc: timeUtc })}`,
        { 'x-api-key': p.oneClickImpact.apiKey },
        p.oneClickImpact.timeoutMs,
      ),
    baselineReadAllocation: ({ fundsAllocationId }) =>
      get(
        `${p.impactRecon.baseUrl}/v3/funds/allocations/${fundsAllocationId}/impact`,
        { authorization: `Bearer ${p.impactRecon.apiKey}` },
        p.impactRecon.timeoutMs,
      ),
  };
}

async function main() {
  const codePath = process.env.BENCH_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('BENCH_WORKFLOW_BUNDLE is not set');
  const settings = workerConfig();
  const providers = providerConfig();
  const temporal = temporalConfig();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const deps = buildClients(providers);
  const worker = await Worker.create(
    sagaWorkerOptions(deps, {
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      workflowBundle: { codePath },
      activities: { ...createActivities(deps), ...baselineActivities(providers) },
      ...workerTuning(settings),
    }),
  );
  console.log(`bench worker ready (pid ${process.pid}, task queue ${temporal.taskQueue})`);
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
