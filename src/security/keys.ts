/**
 * The payload encryption keys, from the environment: `PAYLOAD_KEYS` (`id:base64key,…`) or `PAYLOAD_KEYS_FILE` (a JSON
 * file of keys), newest first; or `PAYLOAD_ENCRYPTION=off`, the one explicit way to run without them. Every error
 * names the variable and the key, never the key's bytes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { z } from 'zod';
import { ConfigError, parseEnv } from '../config';
import { encryptedDataConverter, type PayloadKey } from './codec';

const KEY_BYTES = 32;

/** A key id: what payloads carry in their metadata and errors name. */
const KeyIdSchema = z.string().regex(/^[\w.-]{1,64}$/, { error: 'id must be 1-64 letters, digits, "_", "." or "-"' });

/** One key as configured: an id and the base64 of 32 random bytes. */
const KeyEntrySchema = z.strictObject({
  id: KeyIdSchema,
  key: z
    .base64({ error: `key must be base64 of ${KEY_BYTES} bytes` })
    .transform((key) => Buffer.from(key, 'base64'))
    .refine((key) => key.length === KEY_BYTES, { error: `key must be base64 of exactly ${KEY_BYTES} bytes` }),
});

/** The keys, newest first, with unique ids. */
const KeyListSchema = z
  .array(KeyEntrySchema)
  .min(1, { error: 'must hold at least one key' })
  .superRefine((keys, ctx) => {
    const seen = new Set<string>();
    for (const [index, { id }] of keys.entries()) {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: 'id is given twice' });
      seen.add(id);
    }
  });

/** The file `PAYLOAD_KEYS_FILE` names (and the dev stack writes): `{ "keys": [{ "id", "key" }, …] }`. */
const KeysFileSchema = z.strictObject({ keys: KeyListSchema });

/**
 * Where an issue is, for a message: the key's position and, once known, its id. Zod's own messages are used, never
 * its input: the input is the key.
 */
function describeIssues(
  variable: string,
  issues: z.core.$ZodIssue[],
  entries: ReadonlyArray<{ id?: unknown } | undefined>,
  path: (issuePath: PropertyKey[]) => PropertyKey[],
): ConfigError {
  const problems = issues.map((issue) => {
    const [index] = path(issue.path);
    const id = typeof index === 'number' ? entries[index]?.id : undefined;
    const where =
      typeof index === 'number'
        ? `key ${index}${typeof id === 'string' && KeyIdSchema.safeParse(id).success ? ` ("${id}")` : ''}: `
        : '';
    return `${where}${issue.message}`;
  });
  return new ConfigError(`invalid ${variable}: ${problems.join('; ')}`);
}

/** Parses `PAYLOAD_KEYS`: comma-separated `id:base64key`, newest first. */
function parseKeyList(value: string): PayloadKey[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const malformed = items.flatMap((item, index) => (item.includes(':') ? [] : [`key ${index}`]));
  if (malformed.length)
    throw new ConfigError(`invalid PAYLOAD_KEYS: ${malformed.join(', ')} must be "id:base64key" (separated by ",")`);
  const entries = items.map((item) => {
    const colon = item.indexOf(':');
    return { id: item.slice(0, colon), key: item.slice(colon + 1) };
  });
  const parsed = KeyListSchema.safeParse(entries);
  if (!parsed.success) throw describeIssues('PAYLOAD_KEYS', parsed.error.issues, entries, (p) => p);
  return parsed.data;
}

/** Reads a keys file (`PAYLOAD_KEYS_FILE`, the dev stack's `payload-keys.json`); errors name `variable` and the file. */
export function readPayloadKeysFile(path: string, variable = 'PAYLOAD_KEYS_FILE'): PayloadKey[] {
  const source = `${variable} (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: the key itself, perhaps.
    throw new ConfigError(`invalid ${source}: not JSON; expected { "keys": [{ "id": …, "key": <base64> }] }`);
  }
  const parsed = KeysFileSchema.safeParse(json);
  if (parsed.success) return parsed.data.keys;
  const keys = (json as { keys?: unknown })?.keys;
  const entries = Array.isArray(keys) ? (keys as Array<{ id?: unknown } | undefined>) : [];
  throw describeIssues(source, parsed.error.issues, entries, (p) => (p[0] === 'keys' ? p.slice(1) : []));
}

/** Writes `keys` as a keys file readable by its owner only; refuses to overwrite one. */
export function writePayloadKeysFile(path: string, keys: readonly PayloadKey[]): void {
  const file = { keys: keys.map(({ id, key }) => ({ id, key: key.toString('base64') })) };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/** A new key of 32 random bytes named `id` (for the dev stack, the chaos suite and tests). */
export function generatePayloadKey(id: string): PayloadKey {
  const checked = KeyIdSchema.safeParse(id);
  if (!checked.success) throw new Error(`invalid payload key id: ${checked.error.issues[0]!.message}`);
  return { id, key: randomBytes(KEY_BYTES) };
}

/** What the environment says of payload encryption. */
export type PayloadKeysConfig = { keys: PayloadKey[] } | { off: true } | undefined;

/**
 * The payload keys from `PAYLOAD_KEYS` or `PAYLOAD_KEYS_FILE` (newest first), `{ off: true }` for
 * `PAYLOAD_ENCRYPTION=off`, or undefined when nothing is configured.
 */
export function payloadKeysConfig(env: NodeJS.ProcessEnv = process.env): PayloadKeysConfig {
  // Only the variables' presence and the switch go through parseEnv: its messages quote the value.
  const parsed = parseEnv(
    z.object({
      PAYLOAD_ENCRYPTION: z.enum(['on', 'off'], { error: 'must be "on" or "off"' }).optional(),
      PAYLOAD_KEYS: z.string().optional(),
      PAYLOAD_KEYS_FILE: z.string().optional(),
    }),
    env,
  );
  const list = parsed.PAYLOAD_KEYS?.trim() || undefined;
  const file = parsed.PAYLOAD_KEYS_FILE?.trim() || undefined;
  if (list && file)
    throw new ConfigError('invalid environment: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both (which keys to use?)');
  if (parsed.PAYLOAD_ENCRYPTION === 'off') {
    if (list || file)
      throw new ConfigError(
        `invalid environment: PAYLOAD_ENCRYPTION=off, yet ${list ? 'PAYLOAD_KEYS' : 'PAYLOAD_KEYS_FILE'} is set; unset one`,
      );
    return { off: true };
  }
  if (list) return { keys: parseKeyList(list) };
  if (file) return { keys: readPayloadKeysFile(file) };
  return undefined;
}

/** The `dataConverter` of a client when keys are configured; undefined otherwise (off, or nothing set). */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const config = payloadKeysConfig(env);
  return config && 'keys' in config ? encryptedDataConverter(config.keys) : undefined;
}

/** Payload encryption of a production process: keys (and the id new payloads use), or explicitly off. */
export type PayloadEncryption =
  { dataConverter: DataConverter; currentKeyId: string; off?: undefined } | { dataConverter: undefined; off: true };

/**
 * Payload encryption for `who` (the worker, the API): throws a ConfigError saying what to set when the environment
 * names neither keys nor `PAYLOAD_ENCRYPTION=off`.
 */
export function requirePayloadEncryption(who: string, env: NodeJS.ProcessEnv = process.env): PayloadEncryption {
  const config = payloadKeysConfig(env);
  if (!config)
    throw new ConfigError(
      `${who} needs payload encryption keys, or workflow history holds personal data in the clear: set PAYLOAD_KEYS ` +
        '("id:base64key", newest first; a key is `openssl rand -base64 32`) or PAYLOAD_KEYS_FILE (a JSON file ' +
        '{ "keys": [{ "id", "key" }] }), or PAYLOAD_ENCRYPTION=off to run without',
    );
  if ('off' in config) return { dataConverter: undefined, off: true };
  return { dataConverter: encryptedDataConverter(config.keys), currentKeyId: config.keys[0]!.id };
}

/** The dev stack's generated keys file, in its state directory (`STACK_STATE_DIR`, `.temporal/`). */
export const DEV_STACK_KEYS_FILE = 'payload-keys.json';

/**
 * The data converter of a client of the local dev stack (the demo, the CLI without a cluster configured): the
 * environment's keys when set, else the keys the stack generated into `stateDir`, when it has; undefined when
 * `PAYLOAD_ENCRYPTION=off` or there are none.
 */
export function devStackDataConverter(
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): DataConverter | undefined {
  const config = payloadKeysConfig(env);
  if (config) return 'keys' in config ? encryptedDataConverter(config.keys) : undefined;
  const file = join(stateDir, DEV_STACK_KEYS_FILE);
  return existsSync(file) ? encryptedDataConverter(readPayloadKeysFile(file, 'the dev stack’s keys file')) : undefined;
}
