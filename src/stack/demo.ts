/**
 * `npm run demo` (`refund-saga demo`): against the stack of `npm start`, seeds the sandboxes and starts six refunds that cover the real
 * situations, then shows a live table of their states until each has settled, with Temporal UI links and the CLI
 * command an operator would run for the stuck ones.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { getRefundStatus, startRefund } from '../client';
import { apiConfig, sandboxConfig, stackConfig, temporalConfig, type TemporalFlags } from '../config';
import type { RefundRequest, SagaStatusView } from '../domain';
import { devStackDataConverter } from '../security/keys';

const sandboxes = sandboxConfig();
const base = (port: number) => `http://${sandboxes.host}:${port}`;
// Demo sagas poll every few seconds instead of minutes, so the whole story plays out in under a minute.
// Deadlines of an hour keep the number of polls within what one saga's history may hold.
const DEMO_POLLING = {
  pollInitialMs: 2000,
  pollMaxMs: 5000,
  settlementDeadlineMs: 3_600_000,
  reconDeadlineMs: 3_600_000,
};

async function admin(port: number, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${base(port)}/_sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${port} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

interface Scenario {
  title: string;
  expect: string;
  carbon: 'stripe_climate' | 'squake';
  stripeAgeSeconds?: number;
  squakeState?: 'reserved' | 'confirmed';
  settleDelayMs?: number;
  reversal?: 'match' | 'mismatch';
}

const SCENARIOS: Scenario[] = [
  { title: 'happy path via Stripe Climate', expect: 'completed', carbon: 'stripe_climate' },
  { title: 'happy path via SQUAKE', expect: 'completed', carbon: 'squake' },
  { title: 'Circle settling late (20 s)', expect: 'completed', carbon: 'stripe_climate', settleDelayMs: 20_000 },
  {
    title: 'Stripe window closed (25 h old)',
    expect: 'needs_attention',
    carbon: 'stripe_climate',
    stripeAgeSeconds: 25 * 3600,
  },
  { title: 'SQUAKE already confirmed', expect: 'needs_attention', carbon: 'squake', squakeState: 'confirmed' },
  { title: 'recon mismatch', expect: 'needs_attention', carbon: 'stripe_climate', reversal: 'mismatch' },
];

/** Seeds one scenario's resources and returns its refund request. */
async function seed(scenario: Scenario, orderId: string): Promise<RefundRequest> {
  const { ports } = sandboxes;
  const paymentId = randomUUID();
  const fundsAllocationId = randomUUID();
  const timeUtc = new Date(Date.now() - 3_600_000 - Math.floor(Math.random() * 1e6)).toISOString();
  const consumerReference = `consumer_${orderId}`;
  await admin(ports.circle, 'fixtures', {
    payments: [{ id: paymentId, settleDelayMs: scenario.settleDelayMs ?? 1000 }],
  });
  const carbonId = `${scenario.carbon === 'squake' ? 'purchase' : 'climorder'}_${orderId.replace(/[^A-Za-z0-9]/g, '')}`;
  if (scenario.carbon === 'squake') {
    await admin(ports.squake, 'fixtures', { purchases: [{ id: carbonId, state: scenario.squakeState ?? 'reserved' }] });
  } else {
    await admin(ports.stripeClimate, 'fixtures', {
      orders: [{ id: carbonId, ageSeconds: scenario.stripeAgeSeconds ?? 3600 }],
    });
  }
  await admin(ports.impactRecon, 'fixtures', {
    allocations: [
      {
        fundsAllocationId,
        consumerReference,
        fundsDateTime: new Date(Date.now() - 600_000).toISOString(),
        reversalBehaviour: scenario.reversal ?? 'match',
      },
    ],
  });
  await admin(ports.oneClickImpact, 'fixtures', {
    impacts: [{ user_id: 'U1234', time_utc: timeUtc, tree_planted: 10, fundsAllocationId }],
  });
  return {
    orderId,
    reason: `demo: ${scenario.title}`,
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId },
    carbon:
      scenario.carbon === 'squake'
        ? { provider: 'squake', purchaseId: carbonId }
        : { provider: 'stripe_climate', orderId: carbonId },
    impact: { provider: '1clickimpact', userId: 'U1234', timeUtc },
    recon: { fundsAllocationId, consumerReference },
  };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i]!)).join('  ');
}

function note(view: SagaStatusView): string {
  const blocked = Object.entries(view.steps).find(([, s]) => s.state === 'blocked');
  if (blocked) return `${blocked[0]}: ${blocked[1].lastError?.type ?? ''}`;
  const waiting = Object.entries(view.steps).find(([, s]) => s.state === 'waiting');
  return waiting ? `${waiting[0]}: ${waiting[1].detail ?? 'waiting'}` : '';
}

export async function runDemo(flags: TemporalFlags = {}): Promise<void> {
  const temporal = temporalConfig(flags);
  const { namespace, taskQueue } = temporal;
  const stack = stackConfig();
  // Like the stack: a configured cluster, else the stack's own dev server on TEMPORAL_DEV_PORT.
  const address = temporal.configured ? temporal.connectionOptions.address : `127.0.0.1:${stack.devPort}`;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporal.connectionOptions, address, connectTimeout: 3000 });
    await fetch(`${base(sandboxes.ports.circle)}/_sandbox/settings`);
  } catch {
    console.error(
      `The demo needs the running stack: start it with \`npm start\` in another terminal, then run \`npm run demo\` again.`,
    );
    process.exitCode = 1;
    return;
  }
  // The stack's worker encrypts with PAYLOAD_KEYS / PAYLOAD_KEYS_FILE, else with the key it generated into its state dir.
  const client = new Client({ connection, namespace, dataConverter: devStackDataConverter(stack.stateDir) });
  await admin(sandboxes.ports.impactRecon, 'settings', { reversalDelayMs: 3000 });

  const run = Date.now().toString(36);
  console.log(`Seeding the sandboxes and starting ${SCENARIOS.length} refunds (run ${run})…\n`);
  const orders: Array<{ scenario: Scenario; orderId: string }> = [];
  for (const [i, scenario] of SCENARIOS.entries()) {
    const orderId = `demo_${run}_${i + 1}`;
    await startRefund(client, await seed(scenario, orderId), { sagaOptions: DEMO_POLLING, taskQueue });
    orders.push({ scenario, orderId });
  }

  const widths = [18, 32, 17, 8, 40];
  const started = Date.now();
  let views: SagaStatusView[] = [];
  for (;;) {
    views = await Promise.all(orders.map((o) => getRefundStatus(client, o.orderId)));
    const settled = views.every(
      (v, i) => v.status === orders[i]!.scenario.expect || v.status === 'completed' || v.status === 'aborted',
    );
    const lines = [
      row(['order', 'situation', 'status', 'step', 'now'], widths),
      ...views.map((v, i) => row([v.orderId, orders[i]!.scenario.title, v.status, stepOf(v), note(v)], widths)),
    ];
    if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    console.log(
      `${lines.join('\n')}\n\n${settled ? 'All refunds have settled.' : `… refreshing every 2 s (${Math.round((Date.now() - started) / 1000)} s)`}\n`,
    );
    if (settled || Date.now() - started > 180_000) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }

  console.log('Follow each run in the Temporal UI:');
  for (const v of views)
    console.log(
      `  ${v.orderId.padEnd(18)} ${stack.uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/refund-${v.orderId}`,
    );
  const stuck = views.filter((v) => v.status === 'needs_attention');
  if (stuck.length) {
    // Through the stack's API, as its operator: the API records who acted and vouches for the override to the worker.
    console.log('\nWhat an operator would run for the stuck ones (as the dev operator, through the API):');
    console.log(
      `  export REFUND_SAGA_API_URL=http://localhost:${apiConfig().port} REFUND_SAGA_TOKEN=$(cat ${join(stack.stateDir, 'api-token')})`,
    );
    for (const v of stuck) {
      const [step, status] = Object.entries(v.steps).find(([, s]) => s.state === 'blocked')!;
      const command =
        step === 'recon'
          ? `npx refund-saga override ${v.orderId} confirmRecon --reason "checked with finance" --evidence "FIN-123"`
          : `npx refund-saga override ${v.orderId} skipStep --step ${step} --reason "refunded in the provider dashboard"`;
      console.log(`  # ${status.lastError?.message ?? step}\n  ${command}`);
    }
    console.log(`\nOr list them: npx refund-saga list --status needs_attention`);
    console.log(
      `Or resolve them in the operator console: http://localhost:${apiConfig().port}/console (sign in with the token above)`,
    );
  }
  await connection.close();
}

function stepOf(view: SagaStatusView): string {
  return (
    Object.entries(view.steps).find(
      ([, s]) => s.state === 'blocked' || s.state === 'in_progress' || s.state === 'waiting',
    )?.[0] ?? ''
  );
}
