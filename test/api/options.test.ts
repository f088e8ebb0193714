import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { operatorToken } from '../support/api-auth';

describe('the API’s own configuration', () => {
  it('refuses saga options out of bounds when it is built, naming the field, rather than answering callers 400', () => {
    // The client is never called: the options are checked before any route exists.
    const client = {} as Client;
    expect(() =>
      buildApi({ client, authenticator: operatorToken('t'), startOptions: { sagaOptions: { pollInitialMs: 0 } } }),
    ).toThrow(/startOptions\.sagaOptions\.pollInitialMs must be at least 100 ms/);
    expect(() =>
      buildApi({ client, authenticator: operatorToken('t'), startOptions: { sagaOptions: { pollInitialMs: 1000 } } }),
    ).not.toThrow();
  });
});
