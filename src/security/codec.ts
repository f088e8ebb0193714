/**
 * Payload encryption: a Temporal `PayloadCodec` that seals every payload (inputs, results, memos, signal and update
 * arguments, query answers) with AES-256-GCM before it leaves the process, so workflow history holds no personal data
 * in the clear. Runs on Node only (worker, client, codec server): workflow code never sees it, it only sees payloads
 * already decoded.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** The `encoding` of an encrypted payload (the name Temporal's samples and other SDKs' codecs use). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key naming the key an encrypted payload was sealed with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
/** The IV length GCM is specified for; a random one per payload (at 2^32 payloads per key the risk is still 2^-32). */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One AES-256 key and the id payloads sealed with it carry. */
export interface PayloadKey {
  /** Names the key in each payload's metadata, so a key can be rotated while older payloads stay readable. */
  id: string;
  /** 32 random bytes. */
  key: Buffer;
}

/** A payload this process cannot decrypt: the key is not held, or the payload is not what was sealed. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
  constructor(
    message: string,
    /** The key id the payload names, when it names one. */
    readonly keyId: string | undefined,
  ) {
    super(message);
  }
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);
/** A key id from a payload as an error shows it: quoted and escaped, as it may be anything. */
const quoted = (keyId: string) => JSON.stringify(keyId.length > 64 ? `${keyId.slice(0, 64)}…` : keyId);

/**
 * Encrypts payloads with the first (newest) of `keys` and decrypts with whichever of them a payload names; payloads
 * that are not encrypted (histories from before encryption was turned on) pass through as they are.
 */
export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly current: PayloadKey;
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(keys: readonly PayloadKey[]) {
    const [current] = keys;
    if (!current) throw new Error('payload encryption needs at least one key');
    const byId = new Map<string, Buffer>();
    for (const [index, { id, key }] of keys.entries()) {
      if (!id) throw new Error(`payload key ${index} has no id`);
      if (key.length !== KEY_BYTES) throw new Error(`payload key ${quoted(id)} must be ${KEY_BYTES} bytes`);
      if (byId.has(id)) throw new Error(`payload key id ${quoted(id)} is given twice`);
      byId.set(id, key);
    }
    this.current = current;
    this.byId = byId;
  }

  /** The id new payloads are sealed with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  // Synchronous work in a promise, so that a failure is a rejection as the SDK expects of a codec.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.seal(payload))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.open(payload))));
  }

  private seal(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    // The key id is authenticated too: a payload relabelled with another key id fails, rather than decrypting wrongly.
    cipher.setAAD(utf8(id));
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) },
      data: sealed,
    };
  }

  private open(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (keyId === undefined)
      throw new PayloadDecryptionError(
        `an encrypted payload has no ${KEY_ID_METADATA}: cannot tell its key`,
        undefined,
      );
    const key = this.byId.get(keyId);
    if (!key)
      throw new PayloadDecryptionError(
        `payload encrypted with key ${quoted(keyId)}, which this process does not hold (it holds ${[...this.byId.keys()]
          .map(quoted)
          .join(', ')}); add that key to PAYLOAD_KEYS or PAYLOAD_KEYS_FILE`,
        keyId,
      );
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`payload encrypted with key ${quoted(keyId)} is truncated`, keyId);
    const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `payload encrypted with key ${quoted(keyId)} failed authentication: it was altered, or sealed with another key of that id`,
        keyId,
      );
    }
    return temporal.api.common.v1.Payload.decode(plaintext);
  }
}

/** The `dataConverter` option of a `Client` or `Worker` that encrypts payloads with `keys` (newest first). */
export function encryptedDataConverter(keys: readonly PayloadKey[]): DataConverter {
  return { payloadCodecs: [new PayloadEncryptionCodec(keys)] };
}
