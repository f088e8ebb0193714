import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sandboxConfig, ConfigError } from '../../src/config';
import { CircleClient } from '../../src/providers/circle/client';
import { ImpactReconClient } from '../../src/providers/impact-recon/client';
import { OneClickImpactClient } from '../../src/providers/one-click-impact/client';
import { startSandboxes } from '../../src/stack/sandboxes';
import { readLedger } from '../providers/ledger-view';
import { rejectionOf } from '../support/sandboxes';

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

  it('keeps a duplicate attempt across a restart, apart from the effects, until a reset', async () => {
    const paymentId = '0d6f3c1e-7a2b-4c5d-8e9f-1a2b3c4d5e6f';
    const first = await startSandboxes(config);
    first.circle.addFixtures({ payments: [{ id: paymentId }] });
    const circle = new CircleClient({ apiKey: first.circle.apiKey, baseUrl: first.urls.circle });
    await circle.cancelPayment(paymentId, {}, { idempotencyKey: '3f1c1a4e-5d6b-4c2a-9e8f-0a1b2c3d4e5f' });
    await rejectionOf(circle.cancelPayment(paymentId, {}, { idempotencyKey: '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d' }));
    await first.close();

    const second = await startSandboxes(config);
    try {
      const ledger = await readLedger(second.urls.circle, paymentId);
      expect(ledger.counts[paymentId]).toMatchObject({ cancellation: 1 });
      expect(ledger.duplicateAttempts).toEqual({ [paymentId]: 1 });
      expect(second.circle.duplicateAttempts(paymentId)).toEqual([
        expect.objectContaining({ detail: expect.objectContaining({ key: '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d' }) }),
      ]);

      await fetch(`${second.urls.circle}/_sandbox/reset`, { method: 'POST' });
      expect(await readLedger(second.urls.circle, paymentId)).toEqual({
        counts: {},
        duplicateAttempts: {},
        entries: [],
      });
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
