import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, stepIdempotencyKey, stepIdempotencyUuid } from '../../src/domain';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('idempotency keys derived in the workflow', () => {
  // FIPS 180-4 examples and the NIST CAVP short/long message vectors for SHA-256.
  it.each([
    ['"abc"', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['the empty string', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    [
      'the 448-bit message',
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
    ['one million "a"', 'a'.repeat(1_000_000), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'],
  ])('matches the NIST SHA-256 vector for %s', (_name, text, digest) => {
    expect(hex(sha256(text))).toBe(digest);
  });

  it.each(['', 'abc', 'refund-ord_123:payment:1', 'x'.repeat(1000), 'ü€😀'.repeat(40)])(
    'computes SHA-256 exactly like node:crypto (%#)',
    (text) => {
      expect(hex(sha256(text))).toBe(createHash('sha256').update(text).digest('hex'));
    },
  );

  it('gives the same key for the same workflow and step, every time', () => {
    expect(stepIdempotencyUuid('refund-ord_1', 'payment')).toBe(stepIdempotencyUuid('refund-ord_1', 'payment'));
    expect(stepIdempotencyKey('refund-ord_1', 'carbon')).toBe('refund-ord_1:carbon:1');
  });

  it('derives the Circle key that the recorded histories carry, so replayed sagas send the same key', () => {
    // From test/fixtures/histories/happy-path-stripe-climate.json (cancelCirclePayment's input). Replay compares
    // commands, not activity inputs, so only this pins the key to what running sagas already sent.
    expect(stepIdempotencyUuid('refund-ord_ts_1', 'payment')).toBe('c20600b7-bbc6-46af-a78b-b50c1c8668b6');
    expect(stepIdempotencyUuid('refund-ord_123', 'payment', 2)).toBe('e69d7231-d42d-48b5-9289-4e8d50c080d8');
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
