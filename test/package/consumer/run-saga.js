// A consumer of the installed package: only the documented imports, plain Node (no tsx), the prebuilt workflow bundle.
// Starts the sandboxes and a saga worker, starts one refund through `startRefund`, and prints its result as JSON.
// With OTEL_EXPORTER_OTLP_ENDPOINT set, the worker and the client trace (`refund-saga/telemetry`).
const assert = require('node:assert');
const { randomUUID } = require('node:crypto');
const { startRefund } = require('refund-saga');

// The root entry must not load the sandboxes; a production process never needs them.
assert.deepStrictEqual(
  Object.keys(require.cache).filter((path) => /sandbox/.test(path)),
  [],
);

const tracing = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  ? require('refund-saga/telemetry').startTracing('worker')
  : undefined;
const { Client, Connection } = require('@temporalio/client');
const { NativeConnection, Worker } = require('@temporalio/worker');
const { buildClients, sagaWorkerOptions } = require('refund-saga/worker');
const { startSandboxes } = require('refund-saga/sandboxes');

async function main() {
  const address = process.env.TEMPORAL_ADDRESS;
  const sandboxes = await startSandboxes({
    host: '127.0.0.1',
    ports: { circle: 0, stripeClimate: 0, squake: 0, oneClickImpact: 0, impactRecon: 0 },
  });
  const paymentId = randomUUID();
  const climateOrderId = `climorder_${randomUUID().slice(0, 8)}`;
  sandboxes.circle.configure({ settleDelayMs: 100 });
  sandboxes.circle.addFixtures({ payments: [{ id: paymentId }] });
  sandboxes.stripeClimate.addFixtures({ orders: [{ id: climateOrderId }] });
  const u = sandboxes.urls;
  const clients = buildClients({
    circle: { baseUrl: u.circle, apiKey: sandboxes.circle.apiKey, timeoutMs: 2000 },
    stripeClimate: { baseUrl: u.stripeClimate, secretKey: sandboxes.stripeClimate.apiKey, timeoutMs: 2000 },
    squake: { baseUrl: u.squake, token: sandboxes.squake.apiKey, timeoutMs: 2000 },
    oneClickImpact: { baseUrl: u.oneClickImpact, apiKey: sandboxes.oneClickImpact.apiKey, timeoutMs: 2000 },
    impactRecon: { baseUrl: u.impactRecon, apiKey: sandboxes.impactRecon.apiKey, timeoutMs: 2000 },
  });

  const taskQueue = `packaged-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address });
  const options = sagaWorkerOptions(clients, { taskQueue, connection }, { tracing });
  const worker = await Worker.create(options);
  const client = new Client({
    connection: await Connection.connect({ address }),
    interceptors: tracing && tracing.clientInterceptors,
  });
  const result = await worker.runUntil(async () => {
    const started = await startRefund(
      client,
      {
        orderId: `ord_pkg_${randomUUID().slice(0, 8)}`,
        reason: 'order refunded',
        amount: { value: '12.60', currency: 'USD' },
        payment: { provider: 'circle', paymentId },
        carbon: { provider: 'stripe_climate', orderId: climateOrderId },
        impact: null,
        recon: null,
      },
      {
        taskQueue,
        sagaOptions: { pollInitialMs: 200, pollMaxMs: 1000, settlementDeadlineMs: 600000, reconDeadlineMs: 600000 },
      },
    );
    return client.workflow.getHandle(started.workflowId).result();
  });
  await sandboxes.close();
  if (tracing) await tracing.shutdown();
  console.log(JSON.stringify({ result, workflowCode: options.workflowBundle && options.workflowBundle.codePath }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
