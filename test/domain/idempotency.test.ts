import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, stepIdempotencyKey, stepIdempotencyUuid } from '../../src/domain';

describe('idempotency keys derived in the workflow', () => {
  it.each(['', 'abc', 'refund-ord_123:payment:1', 'x'.repeat(1000), 'ü€😀'.repeat(40)])(
    'computes SHA-256 exactly like node:crypto (%#)',
    (text) => {
      expect(Buffer.from(sha256(text)).toString('hex')).toBe(createHash('sha256').update(text).digest('hex'));
    },
  );

  it('gives the same key for the same workflow and step, every time', () => {
    expect(stepIdempotencyUuid('refund-ord_1', 'payment')).toBe(stepIdempotencyUuid('refund-ord_1', 'payment'));
    expect(stepIdempotencyKey('refund-ord_1', 'carbon')).toBe('refund-ord_1:carbon:1');
  });

  it('gives different keys to different orders and steps', () => {
    const keys = ['refund-ord_1', 'refund-ord_2'].flatMap((w) =>
      ['payment', 'carbon'].map((s) => stepIdempotencyUuid(w, s)),
    );
    expect(new Set(keys).size).toBe(4);
  });

  it('shapes the Circle key as a UUID v4', () => {
    expect(stepIdempotencyUuid('refund-ord_1', 'payment')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
