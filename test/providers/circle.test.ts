import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CircleClient } from '../../src/providers/circle/client';
import { CircleSandbox } from '../../src/providers/circle/sandbox';
import {
  ProviderIdempotencyConflictError,
  ProviderMalformedResponseError,
  ProviderUnavailableError,
  ProviderValidationError,
} from '../../src/providers/errors';
import { itClassifiesErrors, useFixedAnswerServer } from '../support/error-contract';
import { ManualClock, rejectionOf, useSandbox } from '../support/sandboxes';
import { readLedger } from './ledger-view';

const clock = new ManualClock();
const { sandbox, url } = useSandbox(new CircleSandbox({ now: clock.now }));
const client = (apiKey = sandbox.apiKey) => new CircleClient({ apiKey, baseUrl: url(), timeoutMs: 2000 });
const KEY_A = '3f1c1a4e-5d6b-4c2a-9e8f-0a1b2c3d4e5f';
const KEY_B = '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
let oddAnswer: unknown = {};
const oddCircle = useFixedAnswerServer(() => oddAnswer);

function seedPayment(fields: Record<string, unknown> = {}): string {
  const { payments } = sandbox.addFixtures({ payments: [fields] }) as { payments: Array<{ id: string }> };
  return payments[0]!.id;
}

describe('Circle client against the Circle sandbox', () => {
  it('accepts a cancel as pending, and it settles as confirmed (a void) after the settle delay', async () => {
    const id = seedPayment({ status: 'confirmed', settleDelayMs: 60_000 });
    const { cancel, requestId } = await client().cancelPayment(
      id,
      { reason: 'requested_by_customer' },
      { idempotencyKey: KEY_A },
    );
    expect(cancel.status).toBe('pending');
    expect(cancel.originalPayment.id).toBe(id);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    expect((await client().getPayment(id)).payment.cancel?.status).toBe('pending');
    clock.advance(60_000);
    const { payment } = await client().getPayment(id);
    expect(payment.cancel?.status).toBe('confirmed');
    expect(sandbox.ledgerEntries(id).map((e) => e.effect)).toEqual(['cancellation', 'void']);
  });

  it('settles the cancel of an already paid payment as paid, with a refund', async () => {
    const id = seedPayment({ status: 'paid', settleDelayMs: 0 });
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    const { payment } = await client().getPayment(id);
    expect(payment.cancel?.status).toBe('paid');
    expect(payment.refunds).toEqual([
      expect.objectContaining({ status: 'paid', amount: { amount: '12.60', currency: 'USD' } }),
    ]);
  });

  it('settles the cancel of a payment marked ineligible as failed', async () => {
    const id = seedPayment({ ineligibleAtSettlement: true, settleDelayMs: 0 });
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    expect((await client().getPayment(id)).payment.cancel?.status).toBe('failed');
  });

  it('replays the same cancel for the same key and payment, with one effect', async () => {
    const id = seedPayment();
    const first = await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    const second = await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    expect(second.cancel).toEqual(first.cancel);
    expect(sandbox.ledgerEntries(id).filter((e) => e.effect === 'cancellation')).toHaveLength(1);
  });

  it('keeps one effect when the answer to the cancel is lost and the call is retried with its key', async () => {
    const id = seedPayment();
    sandbox.addFault({ route: 'cancelPayment', failNext: 1, status: 502, when: 'after' });
    const lost = await rejectionOf(client().cancelPayment(id, {}, { idempotencyKey: KEY_A }));
    expect(lost).toBeInstanceOf(ProviderUnavailableError);
    const retried = await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    expect(retried.cancel.status).toBe('pending');
    expect(sandbox.ledgerEntries(id).filter((e) => e.effect === 'cancellation')).toHaveLength(1);
  });

  it('answers 409 for a key reused on another payment: a permanent idempotency conflict, not a request in flight', async () => {
    const first = seedPayment();
    const second = seedPayment();
    await client().cancelPayment(first, {}, { idempotencyKey: KEY_A });
    const err = await rejectionOf(client().cancelPayment(second, {}, { idempotencyKey: KEY_A }));
    expect(err).toBeInstanceOf(ProviderIdempotencyConflictError);
    expect(err).toMatchObject({ status: 409, code: '1', retryable: false, provider: 'circle' });
    expect((err as ProviderIdempotencyConflictError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sandbox.ledgerEntries(second)).toEqual([]);
  });

  it('refuses to cancel a failed payment: permanent, not eligible', async () => {
    const id = seedPayment({ status: 'failed' });
    const err = await rejectionOf(client().cancelPayment(id, {}, { idempotencyKey: KEY_A }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({
      status: 400,
      retryable: false,
      code: '2',
      message: expect.stringContaining('not eligible'),
    });
    expect((err as ProviderValidationError).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a second cancel under a different key, already cancelled, and records it as one duplicate attempt', async () => {
    const id = seedPayment({ settleDelayMs: 0 });
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    const err = await rejectionOf(client().cancelPayment(id, {}, { idempotencyKey: KEY_B }));
    expect(err).toMatchObject({ status: 400, retryable: false, message: expect.stringContaining('already cancelled') });
    // The refused request retried is still one attempt.
    await rejectionOf(client().cancelPayment(id, {}, { idempotencyKey: KEY_B }));

    const ledger = await readLedger(url(), id);
    expect(ledger.counts).toEqual({ [id]: { cancellation: 1, void: 1 } });
    expect(ledger.duplicateAttempts).toEqual({ [id]: 1 });
    expect(ledger.entries).toContainEqual(
      expect.objectContaining({ effect: 'duplicate_attempt', detail: { key: KEY_B, cancelledWithKey: KEY_A } }),
    );
    expect(sandbox.ledgerEntries(id).map((e) => e.effect)).toEqual(['cancellation', 'void']);
  });

  it('records no duplicate attempt for a replay of the cancelling key', async () => {
    const id = seedPayment();
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    expect(await readLedger(url(), id)).toMatchObject({ counts: { [id]: { cancellation: 1 } }, duplicateAttempts: {} });
  });

  it('records no duplicate attempt for a cancel refused for another reason: a failed payment, a key of another payment', async () => {
    const failed = seedPayment({ status: 'failed' });
    await rejectionOf(client().cancelPayment(failed, {}, { idempotencyKey: KEY_A }));
    await rejectionOf(client().cancelPayment(failed, {}, { idempotencyKey: KEY_B }));
    const first = seedPayment();
    const second = seedPayment();
    await client().cancelPayment(first, {}, { idempotencyKey: KEY_A });
    await client().cancelPayment(second, {}, { idempotencyKey: KEY_B });
    await rejectionOf(client().cancelPayment(second, {}, { idempotencyKey: KEY_A }));
    expect(sandbox.duplicateAttempts()).toEqual([]);
    expect((await readLedger(url(), second)).counts).toEqual({ [second]: { cancellation: 1 } });
  });

  it('rejects an idempotency key that is not a UUID v4 as a validation error', async () => {
    const err = await rejectionOf(client().cancelPayment(seedPayment(), {}, { idempotencyKey: 'not-a-uuid' }));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect((err as Error).message).toContain('idempotencyKey');
  });

  it('reports a cancel whose createDate is not a timestamp as a malformed response naming the field', async () => {
    const id = seedPayment();
    await client().cancelPayment(id, {}, { idempotencyKey: KEY_A });
    const { payment } = await client().getPayment(id);
    oddAnswer = { data: { ...payment, cancel: { ...payment.cancel, createDate: 'just now' } } };
    const odd = new CircleClient({ apiKey: sandbox.apiKey, baseUrl: oddCircle.url(), timeoutMs: 2000 });
    const err = await rejectionOf(odd.getPayment(id));
    expect(err).toBeInstanceOf(ProviderMalformedResponseError);
    expect(err).toMatchObject({ provider: 'circle', field: 'data.cancel.createDate', retryable: false });
  });

  itClassifiesErrors(() => ({
    provider: 'circle',
    sandbox,
    route: 'getPayment',
    read: ({ apiKey, timeoutMs }) => client(apiKey).getPayment(seedPayment(), { timeoutMs }),
    readMissing: () => client().getPayment('00000000-0000-4000-8000-000000000000'),
    malformedField: 'data.id',
    requestId: /^[0-9a-f-]{36}$/,
  }));
});

describe('Circle sandbox restarted while a cancel is pending', () => {
  it('settles the cancel at its time after the restart, and notifies the webhook, with no read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'circle-restart-'));
    const statePath = join(dir, 'circle.json');
    const notifications: Array<{ payment: { id: string; cancel?: { status: string } } }> = [];
    const webhook = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        notifications.push(JSON.parse(raw) as (typeof notifications)[number]);
        res.end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    try {
      const first = new CircleSandbox({ statePath });
      const firstUrl = await first.listen();
      first.configure({ webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/` });
      const { payments } = first.addFixtures({ payments: [{ settleDelayMs: 1000 }] }) as {
        payments: Array<{ id: string }>;
      };
      const id = payments[0]!.id;
      await new CircleClient({ apiKey: first.apiKey, baseUrl: firstUrl }).cancelPayment(
        id,
        {},
        { idempotencyKey: KEY_A },
      );
      expect(first.ledgerEntries(id).map((e) => e.effect)).toEqual(['cancellation']);
      await first.close();

      const second = new CircleSandbox({ statePath });
      const secondUrl = await second.listen();
      try {
        await vi.waitFor(() => expect(notifications).toHaveLength(1), { timeout: 5000, interval: 50 });
        expect(notifications[0]!.payment).toMatchObject({ id, cancel: { status: 'confirmed' } });
        expect((await readLedger(secondUrl, id)).counts).toEqual({ [id]: { cancellation: 1, void: 1 } });
      } finally {
        await second.close();
      }
    } finally {
      webhook.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
