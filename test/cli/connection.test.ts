import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main';
import { renderStatus } from '../../src/cli/status';
import type { SagaStatusView } from '../../src/domain';
import { cliWithoutServer, NO_SERVER } from './run-cli';

const dir = mkdtempSync(join(tmpdir(), 'cli-connection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  // The flags and the profile decide in these tests, never the environment of whoever runs them.
  for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE']) {
    vi.stubEnv(name, undefined);
  }
  return () => vi.unstubAllEnvs();
});

describe('refund-saga connection flags', () => {
  it('-n and --address after the command reach the connection', async () => {
    const run = await cliWithoutServer('list', '-n', 'prod', '--address', 'temporal.example:7233');
    expect(run).toMatchObject({ code: 1, err: `refund-saga: ${NO_SERVER}` });
    expect(run.connections).toEqual([
      expect.objectContaining({
        namespace: 'prod',
        connectionOptions: expect.objectContaining({ address: 'temporal.example:7233' }),
      }),
    ]);
  });

  it('the long --namespace works before the command too, and the command’s own flag wins', async () => {
    const before = await cliWithoutServer('--namespace', 'prod', 'status', 'ord_1');
    expect(before.connections[0]).toMatchObject({ namespace: 'prod' });
    const both = await cliWithoutServer(
      '-n',
      'prod',
      '--address',
      'a.example:7233',
      'status',
      'ord_1',
      '-n',
      'staging',
    );
    expect(both.connections[0]).toMatchObject({
      namespace: 'staging',
      connectionOptions: expect.objectContaining({ address: 'a.example:7233' }),
    });
  });

  it('--profile and --config-file read the envconfig TOML, and the flags win over the profile', async () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(file, '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "payments"\n');
    const profile = await cliWithoutServer('status', 'ord_1', '--config-file', file, '--profile', 'prod');
    expect(profile.connections[0]).toMatchObject({
      namespace: 'payments',
      connectionOptions: expect.objectContaining({ address: 'prod.example:7233' }),
    });
    const flagged = await cliWithoutServer('status', 'ord_1', '--config-file', file, '--profile', 'prod', '-n', 'x');
    expect(flagged.connections[0]).toMatchObject({ namespace: 'x' });
  });

  it('a server that cannot be reached is an error naming the --address', async () => {
    const port = await closedPort();
    const err: string[] = [];
    const code = await runCli(['status', 'ord_1', '--address', `127.0.0.1:${port}`], {
      out: () => {},
      err: (l) => err.push(l),
    });
    expect(code).toBe(1);
    expect(err).toEqual([
      expect.stringMatching(new RegExp(`^refund-saga: cannot connect to Temporal at 127\\.0\\.0\\.1:${port}: `)),
    ]);
  }, 15_000);

  it('the "next:" command of a stuck saga repeats the cluster and namespace it was read from', () => {
    const step = { state: 'succeeded', attempts: 1 } as const;
    const view: SagaStatusView = {
      orderId: 'ord_1',
      status: 'needs_attention',
      steps: { payment: step, carbon: { state: 'blocked', attempts: 1 }, impact: step, recon: step },
      overrides: [],
      startedAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    expect(renderStatus(view, ['--address a.example:7233', '-n prod'])).toContain(
      'next: refund-saga override ord_1 retryStep|skipStep --step carbon --operator <you> --reason "<why>" --address a.example:7233 -n prod',
    );
  });
});

/** A port nothing listens on: one the OS handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
