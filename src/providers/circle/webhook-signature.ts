/**
 * How a Circle notification to the project's webhook is signed. Circle's docs in the seed describe no signature, so the
 * project picks the usual HMAC scheme: `X-Webhook-Timestamp: <unix seconds>` and
 * `X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>`, with one `v1=` per secret,
 * comma-separated, while a secret is rotated. The sandbox signs with it and the API checks with it; nothing here
 * depends on an HTTP framework.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the unix seconds the notification was signed at. */
export const WEBHOOK_TIMESTAMP_HEADER = 'X-Webhook-Timestamp';
/** The header that carries one or more `v1=<hex>` signatures, comma-separated. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Webhook-Signature';

/** Unix seconds, as sent: digits only, and no more than ten of them (a millisecond clock is refused, not misread). */
const UNIX_SECONDS = /^[0-9]{1,10}$/;
/** One signature of the `v1` scheme: a SHA-256 HMAC in hex. */
const V1_SIGNATURE = /^v1=([0-9a-f]{64})$/i;
/** More signatures than a rotation needs are not read: each one costs a comparison. */
const MAX_SIGNATURES = 8;

/** The HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`. */
function hmac(secret: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** The headers that sign `body` at `timestampSeconds`, with one `v1=` signature per secret. */
export function signCircleNotification(
  body: string | Uint8Array,
  secrets: string | readonly string[],
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): { 'x-webhook-timestamp': string; 'x-webhook-signature': string } {
  const timestamp = String(timestampSeconds);
  const signatures = (typeof secrets === 'string' ? [secrets] : secrets).map(
    (secret) => `v1=${hmac(secret, timestamp, body).toString('hex')}`,
  );
  return { 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signatures.join(',') };
}

/** The unix seconds of an `X-Webhook-Timestamp` value, or undefined when it is not unix seconds. */
export function parseWebhookTimestamp(value: string): number | undefined {
  return UNIX_SECONDS.test(value) ? Number(value) : undefined;
}

/** The signatures of an `X-Webhook-Signature` value, or undefined when any entry is not `v1=<64 hex digits>`. */
export function parseWebhookSignatures(value: string): Buffer[] | undefined {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.length > MAX_SIGNATURES) return undefined;
  const signatures: Buffer[] = [];
  for (const entry of entries) {
    const hex = V1_SIGNATURE.exec(entry)?.[1];
    if (!hex) return undefined;
    signatures.push(Buffer.from(hex, 'hex'));
  }
  return signatures;
}

/**
 * True when one of `signatures` is the HMAC of `timestamp` and `body` under one of `secrets`. Every pair is compared,
 * each in constant time, so the time taken tells nothing of the expected signatures.
 */
export function circleNotificationSigned(
  secrets: readonly string[],
  timestamp: string,
  body: string | Uint8Array,
  signatures: readonly Buffer[],
): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = hmac(secret, timestamp, body);
    for (const given of signatures) {
      if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
    }
  }
  return matched;
}
