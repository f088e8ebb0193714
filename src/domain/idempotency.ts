/**
 * Idempotency keys derived from the workflow id and the step, so they are the same across activity retries, worker
 * crashes and replays, and differ between orders. Pure code: safe in workflows.
 */
// `node:crypto` is banned in workflow code; noble's SHA-256 is plain JS and bundles into the workflow sandbox.
import { sha256 as sha256Bytes } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';

/** SHA-256 of a UTF-8 string, as bytes (FIPS 180-4). */
export function sha256(text: string): Uint8Array {
  return sha256Bytes(utf8ToBytes(text));
}

/** A readable key for providers that take any string: `refund-ord_123:carbon:1`. */
export function stepIdempotencyKey(workflowId: string, step: string, generation = 1): string {
  return `${workflowId}:${step}:${generation}`;
}

/** A UUID v4-shaped key for providers that require one (Circle), from SHA-256 of the readable key. */
export function stepIdempotencyUuid(workflowId: string, step: string, generation = 1): string {
  const bytes = sha256(stepIdempotencyKey(workflowId, step, generation)).slice(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
