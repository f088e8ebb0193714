import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sandboxConfig, ConfigError } from '../../src/config';
import { CircleClient } from '../../src/providers/circle/client';
import { ImpactReconClient } from '../../src/providers/impact-recon/client';
import { OneClickImpactClient } from '../../src/providers/one-click-impact/client';
import { startSandboxes } from '../../src/stack/sandboxes';

const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
const config = {
  host: '127.0.0.1',
  stateDir,
  ports: { circle: 0, stripeClimate: 0, squake: 0, oneClickImpact: 0, impactRecon: 0 },
};

describe('the sandboxes run together', () => {
  it('links a cancelled impact to its funds allocation: the recon feed shows the reversal', async () => {
    const running = await startSandboxes({ ...config, stateDir: undefined });
    try {
      running.impactRecon.configure({ reversalDelayMs: 0 });
      const allocationId = '11111111-2222-4333-8444-555555555555';
      running.impactRecon.addFixtures({
        allocations: [{ fundsAllocationId: allocationId, fundsDateTime: new Date(Date.now() - 60_000).toISOString() }],
      });
      running.oneClickImpact.addFixtures({
        impacts: [{ user_id: 'U7', time_utc: '2025-03-12T15:22:14.753Z', fundsAllocationId: allocationId }],
      });

      const impact = new OneClickImpactClient({
        apiKey: running.oneClickImpact.apiKey,
        baseUrl: running.urls.oneClickImpact,
      });
      await impact.cancelImpact({ user_id: 'U7', time_utc: '2025-03-12T15:22:14.753Z' });

      const recon = new ImpactReconClient({ apiKey: running.impactRecon.apiKey, baseUrl: running.urls.impactRecon });
      const page = await recon.listImpactAllocations({
        dateTimeFrom: new Date(Date.now() - 3_600_000).toISOString(),
        dateTimeTo: new Date(Date.now() + 1000).toISOString(),
      });
      expect(page.data.map((r) => r.reversal)).toEqual([false, true]);
    } finally {
      await running.close();
    }
  });

  it('keeps state and ledger across a restart when a state directory is set', async () => {
    const paymentId = 'b8627ae8-732b-4d25-b947-1df8f4007a29';
    const first = await startSandboxes(config);
    first.circle.addFixtures({ payments: [{ id: paymentId }] });
    await new CircleClient({ apiKey: first.circle.apiKey, baseUrl: first.urls.circle }).cancelPayment(
      paymentId,
      {},
      { idempotencyKey: '6f1f9c3e-2b4a-4c8d-9e7f-1a2b3c4d5e6f' },
    );
    await first.close();

    const second = await startSandboxes(config);
    try {
      const { payment } = await new CircleClient({
        apiKey: second.circle.apiKey,
        baseUrl: second.urls.circle,
      }).getPayment(paymentId);
      expect(payment.cancel?.status).toBeDefined();
      expect(second.circle.ledgerEntries(paymentId).map((e) => e.effect)).toContain('cancellation');
    } finally {
      await second.close();
    }
  });

  it('uses the fixed default ports, and names the variable when a port is not a number', () => {
    expect(sandboxConfig({}).ports).toEqual({
      circle: 4101,
      stripeClimate: 4102,
      squake: 4103,
      oneClickImpact: 4104,
      impactRecon: 4105,
    });
    expect(() => sandboxConfig({ STRIPE_SANDBOX_PORT: 'abc' })).toThrow(ConfigError);
    expect(() => sandboxConfig({ STRIPE_SANDBOX_PORT: 'abc' })).toThrow(/STRIPE_SANDBOX_PORT/);
  });
});
