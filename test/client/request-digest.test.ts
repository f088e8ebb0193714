import { describe, expect, it } from 'vitest';
import { parseRefundRequest } from '../../src/domain';
import { canonicalJson, differingFields, readRequestDigest, requestDigest } from '../../src/request-digest';

const request = parseRefundRequest({
  orderId: 'ord_digest_1',
  reason: 'order refunded',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '2f1d7c1e-8b1a-4c55-9d0e-3a1b2c3d4e5f' },
  carbon: { provider: 'stripe_climate', orderId: 'climorder_abc123' },
  impact: { provider: '1clickimpact', userId: 'U42', timeUtc: '2025-03-12T15:22:14.753Z' },
  recon: { fundsAllocationId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', consumerReference: 'consumer_1' },
});

describe('canonical request digest', () => {
  it('writes canonical JSON with keys sorted at every level and null parts left out', () => {
    expect(canonicalJson({ b: 1, a: { d: null, c: 'x' }, e: null, f: undefined })).toBe('{"a":{"c":"x"},"b":1}');
  });

  it('gives the same digest whatever the key order, and for a null part and a missing one', () => {
    const reversed = (value: unknown): unknown =>
      value !== null && typeof value === 'object'
        ? Object.fromEntries(
            Object.entries(value)
              .reverse()
              .map(([k, v]) => [k, reversed(v)]),
          )
        : value;
    // zod writes keys in its schema's order; the digest must not depend on that.
    const reordered = reversed(request) as typeof request;
    expect(Object.keys(reordered)[0]).toBe('recon');
    expect(requestDigest(reordered)).toEqual(requestDigest(request));
    const withoutCarbon = { ...request, carbon: undefined };
    expect(requestDigest({ ...request, carbon: null })).toEqual(requestDigest(withoutCarbon));
    expect(differingFields(requestDigest({ ...request, carbon: null }), requestDigest(withoutCarbon))).toEqual([]);
  });

  it('digests every leaf field path', () => {
    expect(Object.keys(requestDigest(request).fields)).toEqual([
      'amount.currency',
      'amount.value',
      'carbon.orderId',
      'carbon.provider',
      'impact.provider',
      'impact.timeUtc',
      'impact.userId',
      'orderId',
      'payment.paymentId',
      'payment.provider',
      'reason',
      'recon.consumerReference',
      'recon.fundsAllocationId',
    ]);
  });

  it('names the differing leaf paths, sorted, counting a field present on one side only', () => {
    const first = requestDigest({ ...request, carbon: null });
    const corrected = requestDigest({ ...request, amount: { value: '11.00', currency: 'USD' } });
    expect(corrected.sha256).not.toBe(first.sha256);
    expect(differingFields(first, corrected)).toEqual(['amount.value', 'carbon.orderId', 'carbon.provider']);
    expect(differingFields(corrected, first)).toEqual(['amount.value', 'carbon.orderId', 'carbon.provider']);
    const squake = requestDigest({ ...request, carbon: { provider: 'squake', purchaseId: 'purchase_1' } });
    expect(differingFields(corrected, squake)).toEqual([
      'amount.value',
      'carbon.orderId',
      'carbon.provider',
      'carbon.purchaseId',
    ]);
  });

  it('carries none of the request’s values', () => {
    const stored = JSON.stringify(requestDigest(request));
    for (const value of [
      'ord_digest_1',
      'order refunded',
      '12.60',
      '2f1d7c1e',
      'climorder_abc123',
      'U42',
      '2025-03-12',
      '7c9e6679',
      'consumer_1',
    ]) {
      expect(stored).not.toContain(value);
    }
  });

  it('reads a digest back from a memo value, and nothing from a missing or foreign one', () => {
    const digest = requestDigest(request);
    expect(readRequestDigest(JSON.parse(JSON.stringify(digest)))).toEqual(digest);
    expect(readRequestDigest(undefined)).toBeUndefined();
    expect(readRequestDigest({ sha256: 42 })).toBeUndefined();
    expect(readRequestDigest({ ...digest, v: 2 })).toBeUndefined();
  });
});
