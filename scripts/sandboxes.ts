/** `npm run sandboxes`: the five provider sandboxes on fixed ports, until Ctrl-C. */
import { ConfigError, sandboxConfig } from '../src/config';
import { startSandboxes } from '../src/stack/sandboxes';

async function main() {
  const config = sandboxConfig();
  const verbose = process.argv.includes('--verbose');
  const running = await startSandboxes(config, verbose ? (line) => console.log(`  ${line}`) : undefined);
  const rows = [
    ['Circle', running.urls.circle, `Authorization: Bearer ${running.circle.apiKey}`],
    ['Stripe Climate', running.urls.stripeClimate, `Authorization: Bearer ${running.stripeClimate.apiKey}`],
    ['SQUAKE', running.urls.squake, `Authorization: Bearer ${running.squake.apiKey}`],
    ['1ClickImpact', running.urls.oneClickImpact, `x-api-key: ${running.oneClickImpact.apiKey}`],
    ['Impact recon', running.urls.impactRecon, `Authorization: Bearer ${running.impactRecon.apiKey}`],
  ];
  console.log('Provider sandboxes are up:\n');
  for (const [name, url, auth] of rows) console.log(`  ${name!.padEnd(15)} ${url!.padEnd(24)} ${auth}`);
  console.log(
    `\nState: ${config.stateDir ? `kept in ${config.stateDir}` : 'in memory (set SANDBOX_STATE_DIR to keep it)'}`,
  );
  console.log(
    'Admin API on each: /_sandbox/fixtures, /_sandbox/settings, /_sandbox/faults, /_sandbox/ledger, /_sandbox/reset',
  );
  console.log('Ctrl-C stops them.');

  const stop = () => {
    console.log('\nstopping sandboxes');
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const { code } = err as { code?: string };
  if (err instanceof ConfigError) console.error(err.message);
  else if (code === 'EADDRINUSE')
    console.error(`a sandbox port is taken: ${(err as Error).message}. Set *_SANDBOX_PORT to free ports.`);
  else console.error(err);
  process.exit(1);
});
