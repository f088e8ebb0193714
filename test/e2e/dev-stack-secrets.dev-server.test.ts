/**
 * A whole dev-stack run (`refund-saga stack` and `refund-saga demo`, as `npm start` and `npm run demo` run them, on
 * free ports and a state directory of the test's own) keeps every secret it was configured with out of workflow
 * history, out of its logs and out of the API's error bodies, and keeps the demo's personal data out of history: the
 * exported histories are searched for each, and the same histories decoded through the codec show the personal data
 * (so the search can find what it looks for).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/chaos/processes';
import { ENCRYPTED_ENCODING, PayloadEncryptionCodec } from '../../src/security/codec';
import { readPayloadKeysFile } from '../../src/security/keys';
import { overrideVouchKeys } from '../../src/security/vouch';
import { abortUpdate, statusQuery } from '../../src/domain';

const ROOT = join(__dirname, '..', '..');
const state = mkdtempSync(join(tmpdir(), 'refund-saga-dev-stack-'));
let env: NodeJS.ProcessEnv = {};
let stack: ChildProcess | undefined;
let output = '';
let banner = '';
let api = '';
let devAddress = '';

/** Runs `refund-saga <args>` through tsx with the test's environment; its output goes into `output`. */
function run(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'src/bin.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return child;
}

const stop = (child: ChildProcess | undefined, signal: NodeJS.Signals) => {
  try {
    if (child?.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
};

beforeAll(async () => {
  const [dev, ui, port, ...sandboxPorts] = await Promise.all(Array.from({ length: 8 }, freePort));
  // The stack's own dev server: none of the test run's Temporal settings.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  env = {
    ...inherited,
    ...(process.env.TEMPORAL_CLI_PATH && { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH }),
    STACK_STATE_DIR: state,
    TEMPORAL_DEV_PORT: String(dev),
    TEMPORAL_UI_PORT: String(ui),
    PORT: String(port),
    CIRCLE_SANDBOX_PORT: String(sandboxPorts[0]),
    STRIPE_SANDBOX_PORT: String(sandboxPorts[1]),
    SQUAKE_SANDBOX_PORT: String(sandboxPorts[2]),
    ONECLICKIMPACT_SANDBOX_PORT: String(sandboxPorts[3]),
    RECON_SANDBOX_PORT: String(sandboxPorts[4]),
    LOG_LEVEL: 'debug',
    METRICS_PORT: '0',
  };
  api = `http://127.0.0.1:${port}`;
  devAddress = `127.0.0.1:${dev}`;
  stack = run(['stack']);
  const deadline = Date.now() + 120_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (stack.exitCode !== null || Date.now() > deadline) throw new Error(`the stack did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // The banner prints the dev credentials on purpose (README, "Run the stack"): everything after it is the logs.
  banner = output;
  output = '';
  const demo = run(['demo']);
  const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
  if (code !== 0) throw new Error(`the demo exited ${code}:\n${output}`);
}, 240_000);

afterAll(async () => {
  stop(stack, 'SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  stop(stack, 'SIGKILL');
  rmSync(state, { recursive: true, force: true });
});

const secretFile = (name: string) => readFileSync(join(state, name), 'utf8').trim();

/** Each secret as it could show up: as written, and its bytes in base64, base64url and hex. */
function forms(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  return [
    ...(typeof secret === 'string' ? [secret] : []),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
  ];
}

describe('a dev-stack run keeps its secrets and its personal data where they belong', () => {
  it('holds no configured secret in history, logs or error bodies, no personal data in history, and refuses a bare client’s override', async () => {
    const tokens = ['api-token', 'order-service-token', 'finance-token'].map(secretFile);
    const webhookSecret = secretFile('circle-webhook-secret');
    const keys = readPayloadKeysFile(join(state, 'payload-keys.json'));
    const secrets = [...tokens, webhookSecret, secretFile('session-secret')].flatMap(forms);
    for (const { key } of keys) secrets.push(...forms(key));
    for (const { secret } of overrideVouchKeys({ OVERRIDE_VOUCH_KEYS: secretFile('override-vouch-keys') }))
      secrets.push(...forms(secret));
    // Every secret the banner printed is one the test knows of.
    for (const t of tokens) expect(banner).toContain(t);

    // An operator's override through the API, with personal data of its own.
    const operator = { authorization: `Bearer ${tokens[0]}`, 'content-type': 'application/json' };
    const stuck = (await (await fetch(`${api}/v1/refunds?status=needs_attention`, { headers: operator })).json()) as {
      refunds: Array<{ orderId: string; step: string }>;
    };
    const carbon = stuck.refunds.find((r) => r.step === 'carbon');
    expect(carbon, JSON.stringify(stuck)).toBeDefined();
    const reason = `refunded by hand, ticket ${randomUUID()}`;
    const override = await fetch(`${api}/v1/refunds/${carbon!.orderId}/overrides`, {
      method: 'POST',
      headers: operator,
      body: JSON.stringify({ action: 'skipStep', step: 'carbon', reason }),
    });
    expect(override.status).toBe(200);

    // Refusals of every kind: their bodies must not echo a secret.
    const bodies: string[] = [];
    const refused = async (path: string, init: RequestInit, status: number) => {
      const res = await fetch(`${api}${path}`, init);
      expect(res.status, path).toBe(status);
      bodies.push(await res.text());
    };
    await refused('/v1/refunds/x', { headers: { authorization: `Bearer ${tokens[0]}x` } }, 401);
    await refused(
      '/v1/refunds/x/overrides',
      { method: 'POST', headers: { ...operator, authorization: `Bearer ${tokens[1]}` }, body: '{}' },
      403,
    );
    const body = JSON.stringify({ payment: { id: randomUUID() } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const badSignature = createHmac('sha256', `${webhookSecret}x`).update(`${timestamp}.${body}`).digest('hex');
    await refused(
      '/v1/webhooks/circle',
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': `v1=${badSignature}`,
        },
        body,
      },
      401,
    );
    await refused(
      '/codec/decode',
      {
        method: 'POST',
        headers: operator,
        body: JSON.stringify({
          payloads: [{ metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64') }, data: 'AAAA' }],
        }),
      },
      400,
    );

    // Every history of the run, as Temporal exports it, and decoded through the codec.
    const connection = await Connection.connect({ address: devAddress });
    const codec = new PayloadEncryptionCodec(keys);
    // The list decodes each run's memo; a history is fetched as Temporal holds it, whatever the client's codec.
    const client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });
    // The same kind of override from a bare Temporal client, as the UI's "Send a Signal" or tctl would send it: the
    // dev stack's worker applies only what its API vouched for.
    const other = stuck.refunds.find((r) => r.orderId !== carbon!.orderId)!;
    const bare = client.workflow.getHandle(`refund-${other.orderId}`);
    await expect(
      bare.executeUpdate(abortUpdate, { args: [{ operator: 'operator@dev.local', reason: 'forged' }] }),
    ).rejects.toMatchObject({ cause: { type: 'Unvouched' } });
    expect((await bare.query(statusQuery)).overrides).toEqual([]);
    let exported = '';
    let decoded = '';
    try {
      for await (const execution of client.workflow.list({ query: "WorkflowType = 'refundSaga'" })) {
        const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
        exported += readable(history);
        decoded += readable(await decodedThroughCodec(history, codec));
      }
    } finally {
      await connection.close();
    }
    expect(exported.length).toBeGreaterThan(10_000);

    // The personal data the run carried, read from the decoded histories: the demo's requests and the override.
    const personal = [
      reason,
      'operator@dev.local',
      ...[...decoded.matchAll(/userId\\?"\s*:\s*\\?"([^"\\]+)/g)].map((m) => m[1]!),
    ];
    expect(personal.length).toBeGreaterThan(3);
    for (const value of personal) {
      expect(decoded, `the decoded histories show ${value}`).toContain(value);
      expect(exported, `the exported histories hold ${value} in plaintext`).not.toContain(value);
    }

    const logs = output;
    expect(logs, 'the stack logged nothing: the search would prove nothing').toMatch(/"?reqId"?/);
    for (const secret of secrets) {
      expect(exported.includes(secret), 'a secret is in the exported history').toBe(false);
      expect(logs.includes(secret), 'a secret is in the logs').toBe(false);
      for (const b of bodies) expect(b.includes(secret), `a secret is in an error body: ${b}`).toBe(false);
    }
  }, 120_000);
});

/**
 * The history as Temporal exports it (proto JSON), each base64 string also shown as text: a payload in the clear
 * shows its JSON there, byte for byte.
 */
function readable(history: temporal.api.history.v1.IHistory): string {
  return JSON.stringify(
    JSON.parse(historyToJSON(history), (_k, v: unknown) =>
      typeof v === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0
        ? `${v} ${Buffer.from(v, 'base64').toString('utf8')}`
        : v,
    ),
  );
}

/** The history with every encrypted payload decoded, as the UI shows it through the codec server. */
async function decodedThroughCodec(
  history: temporal.api.history.v1.IHistory,
  codec: PayloadEncryptionCodec,
): Promise<temporal.api.history.v1.IHistory> {
  const copy = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(history).finish());
  const visit = async (value: unknown): Promise<void> => {
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
    const payload = value as Payload;
    if (payload.metadata && Buffer.from(payload.metadata.encoding ?? []).toString() === ENCRYPTED_ENCODING) {
      const [plain] = await codec.decode([payload]);
      payload.metadata = plain!.metadata;
      payload.data = plain!.data;
      return;
    }
    for (const child of Object.values(value)) await visit(child);
  };
  await visit(copy);
  return copy;
}
