import { describe, expect, it } from 'vitest';
import { validRequest } from '../support/fixtures';
import {
  InvalidRequestError,
  parseRefundRequest,
  RefundRequestSchema,
  refundWorkflowId,
  toFieldIssues,
} from '../../src/domain';

/** Paths of the issues a request raises, or [] when it is valid. */
function issuePaths(input: unknown): string[] {
  const parsed = RefundRequestSchema.safeParse(input);
  return parsed.success ? [] : toFieldIssues(parsed.error).map((i) => i.path);
}

function withField(path: string[], value: unknown) {
  const request: Record<string, unknown> = validRequest();
  let target = request;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path[path.length - 1]!] = value;
  return request;
}

describe('RefundRequest', () => {
  it('accepts the example request of docs/design.md', () => {
    expect(parseRefundRequest(validRequest())).toEqual(validRequest());
  });

  it('accepts a SQUAKE purchase as the carbon part', () => {
    const request = withField(['carbon'], { provider: 'squake', purchaseId: 'purchase_sd234asdfl23' });
    expect(issuePaths(request)).toEqual([]);
  });

  it('accepts absent or null carbon, impact and recon parts', () => {
    const { carbon: _c, impact: _i, recon: _r, ...paymentOnly } = validRequest();
    expect(issuePaths(paymentOnly)).toEqual([]);
    expect(issuePaths({ ...paymentOnly, carbon: null, impact: null, recon: null })).toEqual([]);
  });

  it.each([
    ['orderId', ['orderId'], 'ord-ABC_09'],
    ['orderId of 64 characters', ['orderId'], 'a'.repeat(64)],
    ['reason of 200 characters', ['reason'], 'r'.repeat(200)],
    ['a 3-decimal amount', ['amount', 'value'], '1.234'],
    ['a whole amount', ['amount', 'value'], '1000'],
    ['userId', ['impact', 'userId'], 'U1'],
  ])('accepts a valid %s', (_name, path, value) => {
    expect(issuePaths(withField(path, value))).toEqual([]);
  });

  it.each([
    ['orderId empty', ['orderId'], ''],
    ['orderId of 65 characters', ['orderId'], 'a'.repeat(65)],
    ['orderId with a space', ['orderId'], 'ord 123'],
    ['orderId with a slash', ['orderId'], 'ord/123'],
    ['orderId missing', ['orderId'], undefined],
    ['reason over 200 characters', ['reason'], 'r'.repeat(201)],
    ['amount value as a number', ['amount', 'value'], 12.6],
    ['amount value of zero', ['amount', 'value'], '0.00'],
    ['amount value negative', ['amount', 'value'], '-1.00'],
    ['currency in lower case', ['amount', 'currency'], 'usd'],
    ['payment provider other than circle', ['payment', 'provider'], 'stripe'],
    ['paymentId not a UUID', ['payment', 'paymentId'], 'pay_123'],
    ['Stripe order id without climorder_', ['carbon', 'orderId'], 'order_123'],
    ['userId without U', ['impact', 'userId'], '1234'],
    ['userId with letters after U', ['impact', 'userId'], 'U12a'],
    ['timeUtc without milliseconds', ['impact', 'timeUtc'], '2025-03-12T15:22:14Z'],
    ['timeUtc with an offset instead of Z', ['impact', 'timeUtc'], '2025-03-12T15:22:14.753+00:00'],
    ['timeUtc on a day that does not exist', ['impact', 'timeUtc'], '2025-02-30T15:22:14.753Z'],
    ['fundsAllocationId not a UUID', ['recon', 'fundsAllocationId'], 'alloc_1'],
    ['consumerReference empty', ['recon', 'consumerReference'], ''],
  ])('rejects %s, naming the field', (_name, path, value) => {
    expect(issuePaths(withField(path, value))).toEqual([path.join('.')]);
  });

  it('rejects a SQUAKE purchase id that does not start with purchase_', () => {
    const request = withField(['carbon'], { provider: 'squake', purchaseId: 'sd234asdfl23' });
    expect(issuePaths(request)).toEqual(['carbon.purchaseId']);
  });

  it('rejects an unknown carbon provider, naming the carbon part', () => {
    const request = withField(['carbon'], { provider: 'patch', orderId: 'x' });
    expect(issuePaths(request)[0]).toMatch(/^carbon/);
  });

  it('rejects a Stripe field on a SQUAKE purchase instead of ignoring it', () => {
    const request = withField(['carbon'], { provider: 'squake', purchaseId: 'purchase_1', orderId: 'climorder_1' });
    expect(issuePaths(request)).toEqual(['carbon']);
  });

  it('rejects unknown fields at the top level and inside parts', () => {
    expect(issuePaths({ ...validRequest(), customerEmail: 'a@b.c' })).toEqual(['(root)']);
    expect(issuePaths(withField(['payment', 'apiKey'], 'secret'))).toEqual(['payment']);
  });

  it('rejects a recon part without an impact part, since no reversal could ever appear', () => {
    const { impact: _i, ...request } = validRequest();
    expect(issuePaths(request)).toEqual(['recon']);
  });

  it('reports every bad field at once, with messages that name the field', () => {
    const request = withField(['orderId'], 'bad id');
    (request.impact as Record<string, unknown>).userId = 'X1';
    const error = (() => {
      try {
        parseRefundRequest(request);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(InvalidRequestError);
    const { issues, message } = error as InvalidRequestError;
    expect(issues.map((i) => i.path)).toEqual(['orderId', 'impact.userId']);
    expect(message).toContain('orderId must be 1-64 characters');
    expect(message).toContain('impact.userId must be "U" followed by digits');
  });

  it('derives the workflow id from the order id', () => {
    expect(refundWorkflowId('ord_123')).toBe('refund-ord_123');
  });
});
