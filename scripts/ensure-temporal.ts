/**
 * Makes sure both Temporal servers are available before tests or the stack run; prints what it found or built.
 * Usage: tsx scripts/ensure-temporal.ts [--cli-only | --test-server-only]
 */
import {
  ensureTemporalCli,
  ensureTestServer,
  ProvisioningError,
  type ResolvedBinary,
} from '../src/stack/temporal-binaries';

const log = (line: string) => console.log(`[temporal] ${line}`);
const describe = (what: string, b: ResolvedBinary) =>
  log(`${what}: ${b.path ?? 'not available offline; the Temporal SDK will try its own download'} (${b.source})`);

async function main() {
  const only = process.argv[2];
  if (only !== '--test-server-only') describe('Temporal CLI', await ensureTemporalCli(log));
  if (only !== '--cli-only') describe('time-skipping test server', await ensureTestServer(log));
}

main().catch((err: unknown) => {
  console.error(`[temporal] ${err instanceof ProvisioningError ? err.message : String(err)}`);
  process.exit(1);
});
