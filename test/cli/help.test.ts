import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OVERRIDE_ACTIONS } from '../../src/domain';
import { cliWithoutServer } from './run-cli';

const GLOBAL_OPTIONS = [
  '--address <host:port>',
  '-n, --namespace <namespace>',
  '--profile <name>',
  '--config-file <path>',
];

describe('refund-saga help', () => {
  it('lists every command, the processes too, and the global options', () => {
    const root = join(__dirname, '..', '..');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'bin.ts'), '--help'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    for (const command of ['start', 'status', 'list', 'override', 'worker', 'api', 'stack', 'demo']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    for (const option of GLOBAL_OPTIONS) expect(run.stdout).toContain(option);
    expect(run.stderr).toBe('');
  });

  it.each(['start', 'status', 'list', 'override'])('%s --help shows its usage and the global options', async (name) => {
    const help = await cliWithoutServer(name, '--help');
    expect(help).toMatchObject({ code: 0, err: '', connections: [] });
    expect(help.out).toContain(`Usage: refund-saga ${name} `);
    for (const option of [...GLOBAL_OPTIONS, '-o, --output <format>']) expect(help.out).toContain(option);
  });

  it('override --help names each action with the options it takes, and the bulk form', async () => {
    const { code, out } = await cliWithoutServer('override', '--help');
    expect(code).toBe(0);
    for (const action of OVERRIDE_ACTIONS) expect(out).toMatch(new RegExp(`^  ${action} +\\S.*: --`, 'm'));
    expect(out).toMatch(/^ {2}skipStep .*: --step --operator --reason \[--evidence\]$/m);
    expect(out).toMatch(/^ {2}extendDeadline .*: --step --duration --operator --reason$/m);
    expect(out).toMatch(/^ {2}abort .*: --operator --reason$/m);
    expect(out).toContain('refund-saga override (--where <query> | --orders <ids>) <action> [options]');
    for (const option of [
      '--where <query>',
      '--orders <id,id,…>',
      '--apply',
      '--concurrency <1-32>',
      '--id <update id>',
    ]) {
      expect(out).toContain(option);
    }
  });

  it('list --help names the values each filter takes', async () => {
    const { out } = await cliWithoutServer('list', '--help');
    expect(out).toMatch(/--status <status> .*needs_attention/s);
    expect(out).toMatch(/--carbon-provider <provider> .*stripe_climate, squake, none/s);
  });

  it('help <command> is the command’s help', async () => {
    expect(await cliWithoutServer('help', 'status')).toMatchObject({
      code: 0,
      out: expect.stringContaining('Usage: refund-saga status [options] <orderId>'),
    });
  });

  it('no command prints the help on standard error and exits 2', async () => {
    const run = await cliWithoutServer();
    expect(run).toMatchObject({ code: 2, out: '' });
    expect(run.err).toContain('Usage: refund-saga [options] [command]');
  });
});
