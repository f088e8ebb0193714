import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ensureTemporalCli,
  ensureTestServer,
  ProvisioningError,
  toExecutable,
} from '../../src/stack/temporal-binaries';

const dirs: string[] = [];
function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'provision-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('offline provisioning of the Temporal binaries', () => {
  it('uses TEMPORAL_CLI_PATH first, whatever else is on the machine', async () => {
    const resolved = await ensureTemporalCli(() => {}, { TEMPORAL_CLI_PATH: '/bin/sh', PATH: '' });
    expect(resolved).toEqual({ path: '/bin/sh', source: 'env' });
  });

  it('fails with a message naming the variable when TEMPORAL_CLI_PATH is not an executable', async () => {
    const err = await ensureTemporalCli(() => {}, { TEMPORAL_CLI_PATH: '/nonexistent/temporal' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProvisioningError);
    expect((err as Error).message).toContain('TEMPORAL_CLI_PATH=/nonexistent/temporal');
  });

  it('says that go is missing and falls back to the SDK download when nothing else is there', async () => {
    const lines: string[] = [];
    const resolved = await ensureTemporalCli((l) => lines.push(l), {
      PATH: emptyDir(),
      REFUND_SAGA_CACHE_DIR: emptyDir(),
    });
    expect(resolved).toEqual({ path: undefined, source: 'sdk-download' });
    expect(lines.join('\n')).toMatch(/no `go` on PATH.*TEMPORAL_CLI_PATH/s);
    expect(toExecutable(resolved)).toEqual({ type: 'cached-download' });
  });

  it('names java and mvn when the test server cannot be fetched, and falls back to the SDK download', async () => {
    const lines: string[] = [];
    const resolved = await ensureTestServer((l) => lines.push(l), {
      PATH: emptyDir(),
      REFUND_SAGA_CACHE_DIR: emptyDir(),
    });
    expect(resolved.source).toBe('sdk-download');
    expect(lines.join('\n')).toContain('no `java` (a JDK >= 11) and `mvn` (Maven) on PATH');
  });

  it('reuses the cached test server of this machine instead of fetching it again', async () => {
    const resolved = await ensureTestServer(() => {});
    expect(['cache', 'env']).toContain(resolved.source);
    expect(toExecutable(resolved)).toEqual({ type: 'existing-path', path: resolved.path });
  });
});
