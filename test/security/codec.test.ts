import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  PayloadEncryptionCodec,
  type PayloadKey,
} from '../../src/security/codec';
import { generatePayloadKey } from '../../src/security/keys';

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const metadataOf = (payload: Payload) =>
  Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, text(v)]));

/** A payload as the SDK's JSON converter makes it, holding personal data worth hiding. */
const personal = defaultPayloadConverter.toPayload({
  consumerReference: 'consumer-8f1d2c',
  operator: 'alice@example.com',
  reason: 'customer called on 12 March',
});

async function rejection(promise: Promise<unknown>): Promise<PayloadDecryptionError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayloadDecryptionError);
  return err as PayloadDecryptionError;
}

describe('PayloadEncryptionCodec: AES-256-GCM over the whole payload', () => {
  const key = generatePayloadKey('2026-11');
  const codec = new PayloadEncryptionCodec([key]);

  it('round-trips payloads, their metadata included, and an empty one; the sealed form hides both', async () => {
    const empty: Payload = { metadata: { encoding: Buffer.from('binary/null') }, data: new Uint8Array() };
    const [sealed, sealedEmpty] = await codec.encode([personal, empty]);

    expect(metadataOf(sealed!)).toEqual({ encoding: ENCRYPTED_ENCODING, [KEY_ID_METADATA]: '2026-11' });
    // The inner encoding (json/plain) travels inside the ciphertext, as does the data.
    const visible = Buffer.concat([Buffer.from(sealed!.data!), ...Object.values(sealed!.metadata!)]).toString('latin1');
    for (const secret of ['consumer-8f1d2c', 'alice@example.com', 'json/plain']) expect(visible).not.toContain(secret);
    // 12-byte IV, ciphertext, 16-byte tag.
    expect(sealedEmpty!.data!.length).toBeGreaterThanOrEqual(12 + 16 + 'binary/null'.length);

    const [opened, openedEmpty] = await codec.decode([sealed!, sealedEmpty!]);
    expect(metadataOf(opened!)).toEqual({ encoding: 'json/plain' });
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({
      consumerReference: 'consumer-8f1d2c',
      operator: 'alice@example.com',
      reason: 'customer called on 12 March',
    });
    expect(metadataOf(openedEmpty!)).toEqual({ encoding: 'binary/null' });
    expect(Buffer.from(openedEmpty!.data ?? [])).toHaveLength(0);
  });

  it('seals the same payload differently each time (a fresh IV per payload)', async () => {
    const [a, b] = await codec.encode([personal, personal]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
  });

  it('passes through payloads that are not encrypted, so histories from before encryption still replay', async () => {
    const [decoded] = await codec.decode([personal]);
    expect(decoded).toBe(personal);
  });
});

describe('key rotation', () => {
  it('keeps decoding payloads of the old key once a new key is first, and seals new ones with the new key', async () => {
    const old = generatePayloadKey('2026-10');
    const [before] = await new PayloadEncryptionCodec([old]).encode([personal]);
    expect(metadataOf(before!)[KEY_ID_METADATA]).toBe('2026-10');

    const rotated = new PayloadEncryptionCodec([generatePayloadKey('2026-11'), old]);
    expect(rotated.currentKeyId).toBe('2026-11');
    const [after] = await rotated.encode([personal]);
    expect(metadataOf(after!)[KEY_ID_METADATA]).toBe('2026-11');

    const [oldOpened, newOpened] = await rotated.decode([before!, after!]);
    expect(defaultPayloadConverter.fromPayload(oldOpened!)).toMatchObject({ consumerReference: 'consumer-8f1d2c' });
    expect(defaultPayloadConverter.fromPayload(newOpened!)).toMatchObject({ consumerReference: 'consumer-8f1d2c' });
  });

  it('names the key id it does not hold, and the ids it does, but no key', async () => {
    const retired = generatePayloadKey('2025-01');
    const [sealed] = await new PayloadEncryptionCodec([retired]).encode([personal]);
    const current = generatePayloadKey('2026-11');

    const err = await rejection(new PayloadEncryptionCodec([current]).decode([sealed!]));
    expect(err.keyId).toBe('2025-01');
    expect(err.message).toContain('key "2025-01", which this process does not hold');
    expect(err.message).toContain('"2026-11"');
    for (const k of [retired, current]) {
      expect(err.message).not.toContain(k.key.toString('base64'));
      expect(err.message).not.toContain(k.key.toString('hex'));
    }
  });
});

describe('tampering', () => {
  const key = generatePayloadKey('k1');
  const codec = new PayloadEncryptionCodec([key]);

  it('refuses a payload with any byte of its ciphertext, IV or tag changed', async () => {
    const [sealed] = await codec.encode([personal]);
    const data = Buffer.from(sealed!.data!);
    for (const at of [0, 11, 12, Math.floor(data.length / 2), data.length - 1]) {
      const altered = Buffer.from(data);
      altered[at]! ^= 0x01;
      const err = await rejection(codec.decode([{ ...sealed!, data: altered }]));
      expect(err.message).toContain('payload encrypted with key "k1" failed authentication');
    }
  });

  it('refuses a payload relabelled with another key id, even one for the same bytes (the id is authenticated)', async () => {
    // Same bytes under both ids: only the id bound as additional data can tell the payload was relabelled.
    const both = new PayloadEncryptionCodec([key, { id: 'k2', key: key.key }]);
    const [sealed] = await both.encode([personal]);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    const err = await rejection(both.decode([relabelled]));
    expect(err.message).toContain('key "k2" failed authentication');
  });

  it('refuses a truncated payload and one without a key id, escaping what the payload claims', async () => {
    const [sealed] = await codec.encode([personal]);
    const truncated = await rejection(codec.decode([{ ...sealed!, data: Buffer.from(sealed!.data!).subarray(0, 20) }]));
    expect(truncated.message).toContain('truncated');
    const noId = await rejection(codec.decode([{ ...sealed!, metadata: { encoding: sealed!.metadata!.encoding! } }]));
    expect(noId.message).toContain(`no ${KEY_ID_METADATA}`);
    const hostile = '<script>"x"\n';
    const odd = await rejection(
      codec.decode([{ ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from(hostile) } }]),
    );
    expect(odd.message).toContain(JSON.stringify(hostile));
    expect(odd.message).not.toContain('\n');
  });
});

describe('construction', () => {
  it('refuses no keys, a key of the wrong length and a duplicate id, without showing a key', () => {
    const short: PayloadKey = { id: 'short', key: randomBytes(16) };
    const k = generatePayloadKey('a');
    expect(() => new PayloadEncryptionCodec([])).toThrow('at least one key');
    expect(() => new PayloadEncryptionCodec([short])).toThrow('payload key "short" must be 32 bytes');
    const duplicate = (() => {
      try {
        return new PayloadEncryptionCodec([k, { id: 'a', key: randomBytes(32) }]);
      } catch (err) {
        return err as Error;
      }
    })();
    expect(duplicate).toBeInstanceOf(Error);
    expect((duplicate as Error).message).toBe('payload key id "a" is given twice');
  });
});
