/**
 * The faults of the chaos suite. Each scenario seeds its orders, and runs its faults while its sagas run, until the
 * runner says they have all ended (`done`); it returns when each fault struck, for the recovery figures, and what it
 * saw go wrong on its own side (an API answer that was a 5xx, say).
 */
import { randomUUID } from 'node:crypto';
import { STEPS, type RefundRequest, type SagaStatusView } from '../../src/domain';
import { between, pick, random } from './random';
import { sleep } from './processes';
import type { ChaosStack } from './stack';

export interface ChaosContext {
  /** True once every saga of the scenario has ended (or the wait for them is over). */
  done: () => boolean;
  /** The scenario's requests, as they are started. */
  requests: readonly RefundRequest[];
}

export interface ChaosOutcome {
  /** When each fault struck (kill, restart), ms since the epoch. */
  faults: number[];
  /** Faults that broke the rules on the scenario's own side (a 5xx from the API). */
  problems: string[];
  /** What the scenario did, for the report. */
  notes: string[];
}

export type Chaos = (context: ChaosContext) => Promise<ChaosOutcome>;

/** Sets a sandbox up (fixtures, faults); while the sandboxes restart, again for up to 30 s. */
export async function admin(url: string, path: string, body: unknown): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(`${url}/_sandbox/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).catch((err: unknown) => {
      if (Date.now() > deadline) throw err;
      return undefined;
    });
    if (!response) {
      await sleep(500);
      continue;
    }
    if (!response.ok) throw new Error(`sandbox ${path} answered ${response.status}: ${await response.text()}`);
    return;
  }
}

const clearFaults = async (stack: ChaosStack) => {
  for (const url of Object.values(stack.sandboxUrls)) await fetch(`${url}/_sandbox/faults`, { method: 'DELETE' });
};

/** Which carbon order an order has: a Stripe order 25 h old is past its cancel window, and blocks the saga. */
export type CarbonKind = 'stripe' | 'squake' | 'stale_stripe';

/** Seeds one order's resources (a carbon order, always impact and recon) and returns its refund request. */
export async function seedOrder(
  stack: ChaosStack,
  n: number,
  scenario: string,
  carbon: CarbonKind = n % 2 === 1 ? 'squake' : 'stripe',
): Promise<RefundRequest> {
  const id = `${scenario}${n}${randomUUID().slice(0, 6)}`;
  const paymentId = randomUUID();
  const allocationId = randomUUID();
  const timeUtc = new Date(Date.now() - between(60, 86_000) * 1000).toISOString();
  const userId = `U${between(1, 9_999_999)}${n}`;
  const u = stack.sandboxUrls;
  await admin(u.circle, 'fixtures', { payments: [{ id: paymentId, settleDelayMs: between(500, 4000) }] });
  if (carbon === 'squake') {
    await admin(u.squake, 'fixtures', { purchases: [{ id: `purchase_${id}`, state: 'reserved' }] });
  } else {
    const ageSeconds = carbon === 'stale_stripe' ? 25 * 3600 : 3600;
    await admin(u.stripeClimate, 'fixtures', { orders: [{ id: `climorder_${id}`, ageSeconds }] });
  }
  await admin(u.impactRecon, 'fixtures', {
    allocations: [
      {
        fundsAllocationId: allocationId,
        consumerReference: `consumer_${id}`,
        fundsDateTime: new Date(Date.now() - 60_000).toISOString(),
      },
    ],
  });
  await admin(u.oneClickImpact, 'fixtures', {
    impacts: [{ user_id: userId, time_utc: timeUtc, tree_planted: 2, fundsAllocationId: allocationId }],
  });
  return {
    orderId: `ord_${id}`,
    reason: 'order refunded',
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId },
    carbon:
      carbon === 'squake'
        ? { provider: 'squake', purchaseId: `purchase_${id}` }
        : { provider: 'stripe_climate', orderId: `climorder_${id}` },
    impact: { provider: '1clickimpact', userId, timeUtc },
    recon: { fundsAllocationId: allocationId, consumerReference: `consumer_${id}` },
  };
}

/** The four cancel routes, by sandbox URL. */
const cancelRoutes = (stack: ChaosStack): Array<[string, string]> => [
  [stack.sandboxUrls.circle, 'cancelPayment'],
  [stack.sandboxUrls.stripeClimate, 'cancelOrder'],
  [stack.sandboxUrls.squake, 'cancelPurchase'],
  [stack.sandboxUrls.oneClickImpact, 'cancelImpact'],
];

/** Cancels take 1.5 s, so faults cut calls off in flight. */
async function slowCancels(stack: ChaosStack): Promise<void> {
  for (const [url, route] of cancelRoutes(stack)) await admin(url, 'faults', { route, latencyMs: 1500 });
}

/**
 * Runs `fault` `count` times spread over `spreadMs`, while sagas run; each fault and its recovery take about
 * `faultMs`, so the gaps leave room for them and every fault falls while sagas start.
 */
async function repeatedly(
  count: number,
  spreadMs: number,
  faultMs: number,
  done: () => boolean,
  fault: (k: number) => Promise<void>,
): Promise<number[]> {
  const at: number[] = [];
  for (let k = 0; k < count && !done(); k++) {
    const gap = Math.max(500, spreadMs / count - faultMs);
    await sleep(between(gap / 2, gap * 1.5));
    at.push(Date.now());
    await fault(k);
  }
  return at;
}

/** Scenario 1: SIGKILLs of worker processes at random moments, each restarted after 1–3 s. */
export function killStorm(stack: ChaosStack, kills: number, spreadMs: number, slow = true): Chaos {
  return async ({ done }) => {
    if (slow) await slowCancels(stack);
    const faults = await repeatedly(kills, spreadMs, 3000, done, async () => {
      const worker = pick(stack.workers);
      await worker.stop('SIGKILL');
      await sleep(between(1000, 3000));
      await worker.start();
    });
    if (slow) await clearFaults(stack);
    return { faults, problems: [], notes: [`${faults.length} worker SIGKILLs`] };
  };
}

/** Scenario 2: provider faults on every mutating route, on top of a smaller kill storm. */
export function providerFaults(stack: ChaosStack, kills: number, spreadMs: number): Chaos {
  return async (context) => {
    const u = stack.sandboxUrls;
    for (const [url, route] of cancelRoutes(stack)) {
      await admin(url, 'faults', { route, errorRate: 0.2, status: 503 });
      await admin(url, 'faults', { route, errorRate: 0.1, status: 502, when: 'after' });
    }
    await admin(u.stripeClimate, 'faults', { route: 'retrieveOrder', failNext: 5, status: 429, retryAfterSeconds: 1 });
    await admin(u.circle, 'faults', { route: 'getPayment', failNext: 3, malformed: true });
    await admin(u.squake, 'faults', { route: 'cancelPurchase', failNext: 2, hang: true });
    const outcome = await killStorm(stack, kills, spreadMs, false)(context);
    while (!context.done()) await sleep(500);
    await clearFaults(stack);
    return outcome;
  };
}

/**
 * Scenario 3: the Temporal server stops (each of the stack's server faults in turn: SIGTERM and SIGKILL of the dev
 * server; on a cluster also the history service alone, and PostgreSQL) while sagas wait on timers and calls are in
 * flight, and comes back after 1–3 s.
 */
export function serverRestarts(stack: ChaosStack, restarts: number, spreadMs: number): Chaos {
  return async ({ done }) => {
    await slowCancels(stack);
    const kinds: string[] = [];
    const startsBefore = stack.workers.reduce((n, w) => n + w.starts, 0);
    const faults = await repeatedly(restarts, spreadMs, 8000, done, async (k) => {
      const fault = stack.serverFaults[k % stack.serverFaults.length]!;
      kinds.push(fault.name);
      await fault.inject(between(1000, 3000));
      // A supervisor would restart a worker the outage ended; the suite counts any.
      for (const worker of stack.workers) if (!worker.running) await worker.start();
    });
    await clearFaults(stack);
    const exits = stack.workers.reduce((n, w) => n + w.starts, 0) - startsBefore;
    return {
      faults,
      problems: [],
      notes: [
        `${faults.length} server faults: ${summarize(kinds)}`,
        `workers that exited with the server and were restarted: ${exits}`,
      ],
    };
  };
}

/** Scenario 4: the provider sandboxes (all five, one process, state on disk) stop and come back after 1–3 s. */
export function sandboxRestarts(stack: ChaosStack, restarts: number, spreadMs: number): Chaos {
  return async ({ done }) => {
    await slowCancels(stack);
    const faults = await repeatedly(restarts, spreadMs, 4000, done, async (k) => {
      await stack.sandboxes.stop(k % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      await sleep(between(1000, 3000));
      await stack.sandboxes.start();
      // Faults are settings, not state: a restarted sandbox has none.
      await slowCancels(stack);
    });
    await clearFaults(stack);
    return { faults, problems: [], notes: [`${faults.length} sandbox restarts, SIGTERM and SIGKILL in turn`] };
  };
}

const OVERRIDE_WEIGHTS = [
  ['retryStep', 30],
  ['skipStep', 20],
  ['extendDeadline', 25],
  ['confirmRecon', 15],
  ['abort', 10],
] as const;

/** A plausible override: a real action on a random step, from one of five operators. */
function randomOverride(): Record<string, unknown> {
  let roll = random() * 100;
  const action = OVERRIDE_WEIGHTS.find(([, weight]) => (roll -= weight) < 0)?.[0] ?? 'retryStep';
  const who = { operator: `chaos-op-${between(1, 5)}@example.com`, reason: 'chaos operator storm' };
  switch (action) {
    case 'retryStep':
      return { action, step: pick(STEPS), ...who };
    case 'skipStep':
      return { action, step: pick(STEPS), evidence: `ticket CHAOS-${between(1, 999)}`, ...who };
    case 'extendDeadline':
      return { action, step: pick(['payment', 'recon'] as const), duration: pick(['30m', '1h', '2d']), ...who };
    case 'confirmRecon':
      return { action, evidence: `recon export row ${between(1, 999)}`, ...who };
    case 'abort':
      return { action, ...who };
  }
}

/** The override an operator would send for a blocked step, to finish the saga. */
function fittingOverride(step: string, errorType: string | undefined): Record<string, unknown> {
  const who = { operator: 'chaos-cleanup@example.com', reason: 'chaos storm over: finishing the saga' };
  if (errorType === 'WindowClosed' || errorType === 'NotEligible')
    return { action: 'skipStep', step, evidence: 'carbon order past its window', ...who };
  if (step === 'recon' && (errorType === 'DeadlinePassed' || errorType === 'ReconMismatch'))
    return { action: 'confirmRecon', evidence: 'checked in the recon export', ...who };
  if (errorType === 'DeadlinePassed') return { action: 'extendDeadline', step, duration: '1h', ...who };
  return { action: 'retryStep', step, ...who };
}

/**
 * Scenario 5: operators racing each other and the saga through the API: random overrides from four concurrent
 * operators (some sent twice at once under one Idempotency-Key), while a third of the orders block on a closed Stripe
 * window and cancels fail now and then; then each stuck saga gets the override that fits its block.
 */
export function operatorStorm(stack: ChaosStack, stormMs: number): Chaos {
  return async ({ done, requests }) => {
    await slowCancels(stack);
    await admin(stack.sandboxUrls.circle, 'faults', { route: 'cancelPayment', errorRate: 0.3, status: 503 });
    const answers = new Map<string, number>();
    const problems: string[] = [];
    const send = async (orderId: string, body: Record<string, unknown>, key?: string) => {
      try {
        const response = await fetch(`${stack.apiUrl}/v1/refunds/${orderId}/overrides`, {
          method: 'POST',
          headers: {
            // As the operator the body names: the API takes an override only from its own operator.
            authorization: `Bearer ${stack.operatorTokens[body.operator as string] ?? stack.apiToken}`,
            'content-type': 'application/json',
            ...(key && { 'idempotency-key': key }),
          },
          body: JSON.stringify(body),
        });
        const text = await response.text();
        const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        const label = `${response.status}${code ? ` ${code}` : ''}`;
        answers.set(label, (answers.get(label) ?? 0) + 1);
        if (response.status >= 500) problems.push(`${orderId}: ${String(body.action)} answered ${label}: ${text}`);
        return { status: response.status, body: text };
      } catch (err) {
        problems.push(`${orderId}: ${String(body.action)} got no answer: ${(err as Error).message}`);
        return undefined;
      }
    };
    const began = Date.now();
    const operator = async () => {
      while (Date.now() - began < stormMs && !done()) {
        await sleep(between(50, 400));
        if (!requests.length) continue;
        const { orderId } = pick(requests);
        const body = randomOverride();
        if (random() < 0.15) {
          const key = randomUUID();
          await Promise.all([send(orderId, body, key), send(orderId, body, key)]);
        } else await send(orderId, body);
      }
    };
    await Promise.all([operator(), operator(), operator(), operator()]);
    await clearFaults(stack);
    let cleanups = 0;
    while (!done()) {
      for (const { orderId } of requests) {
        const status = await fetch(`${stack.apiUrl}/v1/refunds/${orderId}`, {
          headers: { authorization: `Bearer ${stack.apiToken}` },
        }).then((r) => (r.ok ? (r.json() as Promise<SagaStatusView>) : undefined));
        if (status?.status !== 'needs_attention') continue;
        const blocked = Object.entries(status.steps).find(([, s]) => s.state === 'blocked');
        if (!blocked) continue;
        cleanups++;
        await send(orderId, fittingOverride(blocked[0], blocked[1].lastError?.type));
      }
      await sleep(1000);
    }
    const sent = [...answers.values()].reduce((a, b) => a + b, 0);
    return {
      faults: [],
      problems,
      notes: [
        `${sent} overrides through the API (${cleanups} of them finishing blocked sagas after the storm): ${[...answers]
          .sort()
          .map(([label, n]) => `${n} × ${label}`)
          .join(', ')}`,
      ],
    };
  };
}

function summarize(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} × ${kind}`).join(', ');
}
