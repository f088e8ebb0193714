import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { startRefund } from '../../src/client';
import { InvalidRequestError } from '../../src/domain';

const request = {
  orderId: 'ord_options_1',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '2f1d7c1e-8b1a-4c55-9d0e-3a1b2c3d4e5f' },
};

/** A client that fails the test if anything touches it: validation must happen before anything is started. */
const untouchable = new Proxy({} as Client, {
  get(_target, property) {
    throw new Error(`the client was used (${String(property)}) before the options were validated`);
  },
});

async function issuesOf(input: unknown, sagaOptions: unknown) {
  const err = await startRefund(untouchable, input, { sagaOptions: sagaOptions as never }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidRequestError);
  return (err as InvalidRequestError).issues;
}

describe('startRefund validates the saga options before anything is started', () => {
  it.each([
    ['a zero poll interval', { pollInitialMs: 0 }, 'options.pollInitialMs', 'must be at least 100 ms'],
    [
      'a longest poll interval below the first',
      { pollInitialMs: 60_000, pollMaxMs: 1_000 },
      'options.pollMaxMs',
      'must be at least pollInitialMs (60000 ms)',
    ],
    [
      'more polls than a history holds',
      { pollInitialMs: 100, pollMaxMs: 100, settlementDeadlineMs: 3_600_000, reconDeadlineMs: 3_600_000 },
      'options.pollMaxMs',
      'would poll up to 36000 times within settlementDeadlineMs',
    ],
    ['an unknown option', { pollEveryMs: 1_000 }, 'options', 'pollEveryMs'],
  ])('refuses %s, naming options.<field>', async (_case, sagaOptions, path, message) => {
    const issues = await issuesOf(request, sagaOptions);
    expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
    expect(issues.every((i) => i.path === 'options' || i.path.startsWith('options.'))).toBe(true);
  });

  it('names bad request fields and bad options in one error', async () => {
    const issues = await issuesOf({ ...request, amount: { value: 'twelve', currency: 'USD' } }, { pollInitialMs: 0 });
    expect(issues.map((i) => i.path)).toEqual(['amount.value', 'options.pollInitialMs']);
  });
});
