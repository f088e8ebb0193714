/**
 * `npm start` (`refund-saga stack`): the local stack in one command — a Temporal dev server with its Web UI (SQLite
 * under `.temporal/`, so state survives restarts; search attributes registered), the five provider sandboxes, the
 * saga's worker and the HTTP API. With a Temporal address configured (`TEMPORAL_ADDRESS`, an envconfig profile or
 * `--address`) it uses that cluster instead of starting one. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { authenticatorFrom, hashedTokens, hashToken, type Authenticator } from '../api/auth';
import { buildApi } from '../api/server';
import { apiClientInterceptors, formatVouchKeys, generateVouchKey, overrideVouchKeys } from '../security/vouch';
import {
  apiConfig,
  logConfig,
  providerConfig,
  sandboxConfig,
  stackConfig,
  temporalConfig,
  workerConfig,
  type TemporalFlags,
} from '../config';
import { REFUND_SEARCH_ATTRIBUTES } from '../domain';
import { createLogger, temporalLogger } from '../logging';
import { encryptedDataConverter } from '../security/codec';
import {
  DEV_STACK_KEYS_FILE,
  generatePayloadKey,
  payloadKeysConfig,
  readPayloadKeysFile,
  writePayloadKeysFile,
} from '../security/keys';
import type { Tracing } from '../telemetry';
import { buildClients, sagaWorkerOptions, workerTuning } from '../worker';
import { setCurrentCommand, setCurrentVersion } from '../worker/versioning';
import { startSandboxes } from './sandboxes';
import { registerSearchAttributes } from './search-attributes';
import { ensureTemporalCli } from './temporal-binaries';

const log = (line: string) => console.log(`[stack] ${line}`);

async function startDevServer(
  stack: ReturnType<typeof stackConfig>,
  codecEndpoint: string,
): Promise<{ address: string; uiUrl: string; process: ChildProcess }> {
  const cli = await ensureTemporalCli((line) => log(line));
  if (!cli.path)
    throw new Error('no Temporal CLI available offline; install Go, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS');
  mkdirSync(stack.stateDir, { recursive: true });
  const { devPort: port, uiPort } = stack;
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(stack.stateDir, 'temporal.db'),
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    // The UI decodes payloads through the API's codec server, for whoever signed in there (README, "Security").
    '--ui-codec-endpoint',
    codecEndpoint,
    '--log-level',
    'warn',
  ];
  for (const key of REFUND_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${key.type === 'BOOL' ? 'Bool' : 'Keyword'}`);
  log(`starting the Temporal dev server (${cli.path})`);
  const child = spawn(cli.path, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the dev server exited with code ${child.exitCode}; is port ${port} or ${uiPort} taken?`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`the dev server did not answer on ${address} within 60 s: ${String(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return { address, uiUrl: `http://localhost:${uiPort}`, process: child };
}

/** A dev secret made up once and kept in `.temporal/`, so the printed token stays valid across restarts. */
function devSecret(
  stateDir: string,
  name: string,
  prefix: string,
  make = () => randomBytes(12).toString('hex'),
): string {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, name);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = `${prefix}${make()}`;
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}

/**
 * The API's credentials: yours when API_CREDENTIALS_FILE, API_JWKS_FILE or API_TOKEN is set, else one dev token per
 * role, made up once and kept in `.temporal/` (`api-token` is the operator's, as the README's examples read it).
 */
function devCredentials(
  stateDir: string,
  settings: ReturnType<typeof apiConfig>,
): { authenticator: Authenticator; banner: string } {
  const configured = authenticatorFrom(settings);
  if (configured) return { authenticator: configured, banner: '                (your configured credentials)' };
  const dev = [
    { file: 'api-token', identity: 'operator@dev.local', role: 'operator' },
    { file: 'order-service-token', identity: 'order-service', role: 'order-service' },
    { file: 'finance-token', identity: 'finance@dev.local', role: 'finance' },
  ] as const;
  const tokens = dev.map((d) => ({ ...d, token: devSecret(stateDir, d.file, 'dev_') }));
  return {
    authenticator: hashedTokens(tokens.map((t) => ({ ...t, tokenSha256: hashToken(t.token) }))),
    banner: tokens
      .map(
        (t) =>
          `                ${t.role.padEnd(13)} Authorization: Bearer ${t.token}  (${t.identity}; ${join(stateDir, t.file)})`,
      )
      .join('\n'),
  };
}

/**
 * How the stack's worker and API encrypt payloads: with PAYLOAD_KEYS or PAYLOAD_KEYS_FILE when set, not at all with
 * PAYLOAD_ENCRYPTION=off, else with a dev key generated once into `.temporal/payload-keys.json` (the demo and the CLI
 * read it there). The banner names the key, never its bytes.
 */
function devPayloadEncryption(stateDir: string): { dataConverter?: DataConverter; banner: string } {
  const configured = payloadKeysConfig();
  if (configured && 'off' in configured)
    return { banner: 'not encrypted (PAYLOAD_ENCRYPTION=off): history holds payloads in plaintext' };
  if (configured)
    return {
      dataConverter: encryptedDataConverter(configured.keys),
      banner: `encrypted with key ${configured.keys[0]!.id} (your PAYLOAD_KEYS or PAYLOAD_KEYS_FILE)`,
    };
  const file = join(stateDir, DEV_STACK_KEYS_FILE);
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    try {
      writePayloadKeysFile(file, [generatePayloadKey(`dev-${new Date().toISOString().slice(0, 10)}`)]);
    } catch (err) {
      // Another stack starting in the same directory wrote it first: use that one.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const keys = readPayloadKeysFile(file, 'the dev stack’s keys file');
  return { dataConverter: encryptedDataConverter(keys), banner: `encrypted with dev key ${keys[0]!.id} (${file})` };
}

export async function runStack(flags: TemporalFlags = {}, tracing?: Tracing): Promise<void> {
  const settings = workerConfig();
  const sandboxSettings = sandboxConfig();
  const stack = stackConfig();
  const temporal = temporalConfig(flags);
  const { namespace, taskQueue } = temporal;
  // The runtime's own lines (worker, workflow and activity logs) readable, and only warnings: the banner says the rest.
  const logger = createLogger('stack', logConfig({ format: 'pretty' }));
  Runtime.install({
    logger: temporalLogger(logger.child({ component: 'worker' }, { level: 'warn' })),
  });
  const started = Date.now();

  // A profile, TEMPORAL_ADDRESS or --address names a cluster; otherwise the stack runs its own dev server.
  const apiSettings = apiConfig();
  // `localhost`, as the UI's own URL: the session cookie of /sign-in is then the UI's site's, and goes with its calls.
  const codecEndpoint = `http://localhost:${apiSettings.port}/codec`;
  const dev = temporal.configured ? undefined : await startDevServer(stack, codecEndpoint);
  const connectionOptions = { ...temporal.connectionOptions, ...(dev && { address: dev.address }) };
  const { address } = connectionOptions;
  const client = await Connection.connect(connectionOptions);
  const added = await registerSearchAttributes(client, namespace);
  if (added.length) log(`registered search attributes ${added.join(', ')} on ${address}`);

  const sandboxes = await startSandboxes({
    ...sandboxSettings,
    stateDir: sandboxSettings.stateDir ?? join(stack.stateDir, 'sandboxes'),
  });
  const urls = sandboxes.urls;
  const providers = providerConfig(urls);
  const encryption = devPayloadEncryption(stack.stateDir);
  // The worker applies only the overrides its API vouched for: OVERRIDE_VOUCH_KEYS, else a dev key kept in the state.
  const configuredVouchKeys = overrideVouchKeys();
  const vouchKeys = configuredVouchKeys.length
    ? configuredVouchKeys
    : overrideVouchKeys({
        OVERRIDE_VOUCH_KEYS: devSecret(stack.stateDir, 'override-vouch-keys', '', () =>
          formatVouchKeys([generateVouchKey('dev')]),
        ),
      });

  log('bundling workflows and starting the worker');
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await Worker.create(
    sagaWorkerOptions(
      buildClients(providers),
      {
        connection,
        namespace,
        taskQueue,
        dataConverter: encryption.dataConverter,
        ...workerTuning(settings),
        shutdownGraceTime: '5s',
      },
      { version: settings.versioning, tracing, vouchKeys },
    ),
  );
  const running = worker.run();
  if (settings.versioning) {
    // The stack's own dev server gets new sagas on this version at once; on a cluster of yours that is your call.
    if (dev) await setCurrentVersion(connection.workflowService, namespace, settings.versioning, 'refund-saga stack');
    else
      log(
        `worker version ${settings.versioning.buildId}; to send new sagas to it: ${setCurrentCommand(settings.versioning)}`,
      );
  }

  const credentials = devCredentials(stack.stateDir, apiSettings);
  // The sandbox signs with the first secret, as Circle would with the newest.
  const webhookSecret = apiSettings.webhookSecret?.[0] ?? devSecret(stack.stateDir, 'circle-webhook-secret', 'whsec_');
  const api = buildApi({
    logger: logger.child({ component: 'api' }),
    client: new Client({
      connection: client,
      namespace,
      interceptors: apiClientInterceptors(vouchKeys, namespace, tracing?.clientInterceptors),
      dataConverter: encryption.dataConverter,
    }),
    authenticator: credentials.authenticator,
    rateLimitPerMinute: apiSettings.rateLimitPerMinute,
    sessionSecret: apiSettings.sessionSecret ?? devSecret(stack.stateDir, 'session-secret', 'session_'),
    ...(encryption.dataConverter?.payloadCodecs?.[0] && {
      codec: {
        codec: encryption.dataConverter.payloadCodecs[0],
        corsOrigins: [...apiSettings.codecCorsOrigins, `http://localhost:${stack.uiPort}`],
      },
    }),
    webhookSecret: apiSettings.webhookSecret ?? webhookSecret,
    bodyLimit: apiSettings.bodyLimit,
    taskQueue,
    temporalUiUrl: apiSettings.temporalUiUrl ?? (dev ? dev.uiUrl : undefined),
  });
  const apiUrl = await api.listen({ port: apiSettings.port, host: apiSettings.host });
  // The Circle sandbox tells the API when a cancel settles, as Circle's notifications would.
  sandboxes.circle.configure({ webhookUrl: `${apiUrl}/v1/webhooks/circle`, webhookSecret });

  const uiUrl = dev?.uiUrl ?? 'your cluster’s Web UI';
  console.log(`
  Refund saga stack is ready in ${((Date.now() - started) / 1000).toFixed(1)} s

  Temporal      ${address} (namespace ${namespace})${dev ? `, state in ${join(stack.stateDir, 'temporal.db')}` : ''}
  Web UI        ${uiUrl}${dev ? `/namespaces/${namespace}/workflows` : ''}
  Task queue    ${taskQueue}${settings.versioning ? ` (worker ${settings.versioning.deploymentName} ${settings.versioning.buildId}, pinned)` : ''}
  Payloads      ${encryption.banner}${
    dev && encryption.dataConverter
      ? `
                the Web UI decodes them for whoever signs in at http://localhost:${apiSettings.port}/sign-in
                (operator or finance), then in the UI's codec settings use your browser's: endpoint
                http://localhost:${apiSettings.port}/codec, "Include cross-origin credentials" ticked`
      : ''
  }
  Overrides     applied only when vouched for by this API (key ${vouchKeys[0]!.id}): send them through it or the CLI
                with REFUND_SAGA_API_URL; the Web UI's "Send a Signal" is refused and shown as refused
  HTTP API      ${apiUrl}  (OpenAPI at /openapi.json)
  Console       ${apiUrl}/console  (operators and finance: sign in with your token below)
${credentials.banner}
  Webhook       ${apiUrl}/v1/webhooks/circle  (signed with ${webhookSecret}: X-Webhook-Timestamp, X-Webhook-Signature v1=HMAC-SHA256)
  Sandboxes     Circle ${urls.circle}, Stripe ${urls.stripeClimate}, SQUAKE ${urls.squake},
                1ClickImpact ${urls.oneClickImpact}, recon ${urls.impactRecon}

  Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping: worker, sandboxes, Temporal');
    worker.shutdown();
    await running.catch(() => undefined);
    await Promise.all([api.close(), sandboxes.close(), connection.close(), client.close(), tracing?.shutdown()]);
    dev?.process.kill('SIGTERM');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await running;
  await stop();
}
