import { describe, expect, it } from 'vitest';
import { cliWithoutServer } from './run-cli';

describe('refund-saga bad input', () => {
  it.each([
    [['list', '--watch'], "unknown option '--watch' (see refund-saga list --help)"],
    [['list', '--stauts', 'needs_attention'], "unknown option '--stauts' (Did you mean --status?)"],
    [['status'], "missing required argument 'orderId' (see refund-saga status --help)"],
    [['start'], "missing required argument 'file'"],
    [['status', 'ord_1', 'ord_2'], "too many arguments for 'status'"],
    [['status', 'ord_1', '--namespace'], "option '-n, --namespace <namespace>' argument missing"],
    [['list', '-o', 'yaml'], "argument 'yaml' is invalid. Allowed choices are table, json."],
    [['override', 'ord_1'], "missing required argument 'action' (one of retryStep, skipStep"],
    [['override'], "missing required argument 'orderId'"],
    [['override', '--orders', 'ord_1', 'ord_2', 'abort'], 'give the action alone'],
    [['override', 'ord_1', 'abort', '--operator', 'ops'], 'reason is required'],
    [['list', '--page-size', '0'], '--page-size must be 1-100'],
    [['frobnicate'], "unknown command 'frobnicate' (see refund-saga --help)"],
  ])('%j exits 2 with one line naming what is wrong, before connecting', async (argv, message) => {
    const run = await cliWithoutServer(...argv);
    expect(run).toMatchObject({ code: 2, out: '', connections: [] });
    expect(run.err).toContain(message);
    expect(run.err.startsWith('refund-saga: ')).toBe(true);
    expect(run.err.split('\n')).toHaveLength(1);
  });

  it('a profile the config file lacks is bad input naming the profile', async () => {
    const run = await cliWithoutServer('status', 'ord_1', '--profile', 'nope', '--config-file', '/nonexistent.toml');
    expect(run).toMatchObject({ code: 2, connections: [] });
    expect(run.err).toContain('profile "nope"');
  });
});
