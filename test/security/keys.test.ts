import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config';
import {
  devStackDataConverter,
  generatePayloadKey,
  payloadKeysConfig,
  readPayloadKeysFile,
  requirePayloadEncryption,
  writePayloadKeysFile,
} from '../../src/security/keys';

const dir = mkdtempSync(join(tmpdir(), 'refund-saga-keys-'));
let files = 0;
const file = (content: string) => {
  const path = join(dir, `keys-${++files}.json`);
  writeFileSync(path, content);
  return path;
};

const key32 = randomBytes(32);
const key31 = randomBytes(31);
/** Every form of key material the tests use, none of which an error may contain. */
const MATERIAL = [key32, key31].flatMap((k) => [k.toString('base64'), k.toString('hex'), k.toString('base64url')]);

function configError(env: NodeJS.ProcessEnv): ConfigError {
  let thrown: unknown;
  try {
    payloadKeysConfig(env);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const { message } = thrown as ConfigError;
  for (const material of MATERIAL) expect(message).not.toContain(material);
  return thrown as ConfigError;
}

describe('payloadKeysConfig: PAYLOAD_KEYS, PAYLOAD_KEYS_FILE or PAYLOAD_ENCRYPTION=off', () => {
  it('reads comma-separated id:base64key entries, newest first', () => {
    const older = randomBytes(32);
    const config = payloadKeysConfig({
      PAYLOAD_KEYS: ` 2026-11:${key32.toString('base64')} , 2026-10:${older.toString('base64')}`,
    });
    expect(config).toEqual({
      keys: [
        { id: '2026-11', key: key32 },
        { id: '2026-10', key: older },
      ],
    });
  });

  it('reads a keys file, newest first', () => {
    const path = file(JSON.stringify({ keys: [{ id: 'a.1', key: key32.toString('base64') }] }));
    expect(payloadKeysConfig({ PAYLOAD_KEYS_FILE: path })).toEqual({ keys: [{ id: 'a.1', key: key32 }] });
  });

  it('is undefined when nothing is configured, and off only for PAYLOAD_ENCRYPTION=off', () => {
    expect(payloadKeysConfig({})).toBeUndefined();
    expect(payloadKeysConfig({ PAYLOAD_ENCRYPTION: 'on' })).toBeUndefined();
    expect(payloadKeysConfig({ PAYLOAD_ENCRYPTION: 'off' })).toEqual({ off: true });
  });

  it('refuses a key that is not 32 bytes, naming PAYLOAD_KEYS and the key id, not the key', () => {
    const err = configError({ PAYLOAD_KEYS: `ok:${key32.toString('base64')},short-one:${key31.toString('base64')}` });
    expect(err.message).toBe('invalid PAYLOAD_KEYS: key 1 ("short-one"): key must be base64 of exactly 32 bytes');
  });

  it('refuses a key that is not base64, and an entry without an id, naming their positions', () => {
    expect(configError({ PAYLOAD_KEYS: `k:${key32.toString('base64')}!` }).message).toBe(
      'invalid PAYLOAD_KEYS: key 0 ("k"): key must be base64 of 32 bytes',
    );
    // Hex digits are base64 too: 64 of them decode to 48 bytes.
    expect(configError({ PAYLOAD_KEYS: `k:${key32.toString('hex')}` }).message).toBe(
      'invalid PAYLOAD_KEYS: key 0 ("k"): key must be base64 of exactly 32 bytes',
    );
    expect(configError({ PAYLOAD_KEYS: key32.toString('base64') }).message).toBe(
      'invalid PAYLOAD_KEYS: key 0 must be "id:base64key" (separated by ",")',
    );
  });

  it('refuses a bad id without quoting it (it may be a key pasted in the wrong place)', () => {
    const swapped = `${key32.toString('base64')}:${key32.toString('base64')}`;
    const err = configError({ PAYLOAD_KEYS: swapped });
    expect(err.message).toContain('PAYLOAD_KEYS: key 0: id must be 1-64 letters, digits, "_", "." or "-"');
    expect(configError({ PAYLOAD_KEYS: `${'x'.repeat(65)}:${key32.toString('base64')}` }).message).toContain(
      'key 0: id must be',
    );
  });

  it('refuses a duplicate id', () => {
    const k = key32.toString('base64');
    expect(configError({ PAYLOAD_KEYS: `a:${k},b:${k},a:${k}` }).message).toBe(
      'invalid PAYLOAD_KEYS: key 2 ("a"): id is given twice',
    );
  });

  it('refuses both variables at once, and off with keys', () => {
    const keys = `a:${key32.toString('base64')}`;
    const path = file(JSON.stringify({ keys: [{ id: 'a', key: key32.toString('base64') }] }));
    expect(configError({ PAYLOAD_KEYS: keys, PAYLOAD_KEYS_FILE: path }).message).toContain(
      'set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both',
    );
    expect(configError({ PAYLOAD_KEYS: keys, PAYLOAD_ENCRYPTION: 'off' }).message).toContain(
      'PAYLOAD_ENCRYPTION=off, yet PAYLOAD_KEYS is set',
    );
    expect(configError({ PAYLOAD_ENCRYPTION: 'no' }).message).toContain('PAYLOAD_ENCRYPTION: must be "on" or "off"');
  });

  it('names PAYLOAD_KEYS_FILE and the key in a bad file, and never quotes the file', () => {
    const path = file(
      JSON.stringify({
        keys: [
          { id: 'good', key: key32.toString('base64') },
          { id: 'bad', key: key31.toString('base64') },
        ],
      }),
    );
    expect(configError({ PAYLOAD_KEYS_FILE: path }).message).toBe(
      `invalid PAYLOAD_KEYS_FILE (${path}): key 1 ("bad"): key must be base64 of exactly 32 bytes`,
    );
    // JSON.parse would quote the text around the error: the key, here.
    const broken = file(`{ "keys": [{ "id": "a", "key": "${key32.toString('base64')}" ]`);
    expect(configError({ PAYLOAD_KEYS_FILE: broken }).message).toBe(
      `invalid PAYLOAD_KEYS_FILE (${broken}): not JSON; expected { "keys": [{ "id": …, "key": <base64> }] }`,
    );
    expect(configError({ PAYLOAD_KEYS_FILE: file('{"keys":[]}') }).message).toContain('must hold at least one key');
    expect(configError({ PAYLOAD_KEYS_FILE: join(dir, 'missing.json') }).message).toBe(
      `cannot read PAYLOAD_KEYS_FILE (${join(dir, 'missing.json')}): ENOENT`,
    );
  });
});

describe('requirePayloadEncryption: a production process runs with keys, or says what to set', () => {
  it('refuses to run with nothing configured, naming the variables', () => {
    expect(() => requirePayloadEncryption('the worker', {})).toThrow(ConfigError);
    expect(() => requirePayloadEncryption('the worker', {})).toThrow(
      /^the worker needs payload encryption keys.*set PAYLOAD_KEYS .* or PAYLOAD_KEYS_FILE .* or PAYLOAD_ENCRYPTION=off/,
    );
  });

  it('gives a codec and the current key id with keys, and no data converter when off', () => {
    const keys = `new:${key32.toString('base64')},old:${randomBytes(32).toString('base64')}`;
    const on = requirePayloadEncryption('the worker', { PAYLOAD_KEYS: keys });
    expect(on).toMatchObject({ currentKeyId: 'new', dataConverter: { payloadCodecs: [expect.anything()] } });
    expect(requirePayloadEncryption('the worker', { PAYLOAD_ENCRYPTION: 'off' })).toEqual({
      dataConverter: undefined,
      off: true,
    });
  });
});

describe('dev keys', () => {
  it('writes a generated key readable by its owner only, and reads it back; never overwrites one', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'refund-saga-stack-'));
    const path = join(stateDir, 'payload-keys.json');
    const key = generatePayloadKey('dev-2026-11-23');
    expect(key.key).toHaveLength(32);
    writePayloadKeysFile(path, [key]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readPayloadKeysFile(path)).toEqual([key]);
    expect(() => writePayloadKeysFile(path, [generatePayloadKey('other')])).toThrow(/EEXIST/);
    expect(devStackDataConverter(stateDir, {})?.payloadCodecs).toHaveLength(1);
    // The environment's setting wins over the stack's file: off means off.
    expect(devStackDataConverter(stateDir, { PAYLOAD_ENCRYPTION: 'off' })).toBeUndefined();
    expect(devStackDataConverter(mkdtempSync(join(tmpdir(), 'refund-saga-empty-')), {})).toBeUndefined();
  });

  it('refuses an id that payload metadata could not carry', () => {
    expect(() => generatePayloadKey('has space')).toThrow('invalid payload key id');
  });
});
