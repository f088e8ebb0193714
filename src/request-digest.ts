/**
 * The digest of a refund request that its saga keeps in its memo, so a second start for the same order can tell a
 * retry from a different request and name the fields that differ, without the memo carrying the request's values.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RefundRequest } from './domain';

/** What a saga's memo keeps of the request that started it: SHA-256 digests only, never the values. */
export interface RequestDigest {
  /** Version of the canonical form; a digest of another version is not compared. */
  v: 1;
  /** SHA-256 (hex) of the request's canonical JSON. */
  sha256: string;
  /** SHA-256 (hex) of each leaf field, by dotted path (`amount.value`, `carbon.provider`). */
  fields: Record<string, string>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Drops `null` and `undefined` and sorts keys at every level, so equal requests have one form. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
}

/** JSON with keys sorted at every level and `null` parts left out: `carbon: null` and no `carbon` are the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function leaves(value: unknown, path: string, into: Record<string, unknown>): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && Object.keys(value).length) {
    for (const [key, child] of Object.entries(value)) leaves(child, path ? `${path}.${key}` : key, into);
  } else {
    into[path || '(root)'] = value;
  }
  return into;
}

/**
 * Digests a parsed request. Each leaf's digest also covers its path, so equal values in two fields do not look alike;
 * short values (a currency, a provider name) could still be guessed from their digest, which is why the memo keeps
 * ids and amounts only as digests and no secret ever belongs in a request.
 */
export function requestDigest(request: RefundRequest): RequestDigest {
  const form = canonical(request);
  const fields = Object.fromEntries(
    Object.entries(leaves(form, '', {})).map(([path, value]) => [path, sha256(`${path}\n${JSON.stringify(value)}`)]),
  );
  return { v: 1, sha256: sha256(JSON.stringify(form)), fields };
}

/** The leaf paths whose digests differ, sorted; a field present in only one of the two differs. */
export function differingFields(stored: RequestDigest, given: RequestDigest): string[] {
  if (stored.sha256 === given.sha256) return [];
  const paths = [...new Set([...Object.keys(stored.fields), ...Object.keys(given.fields)])].sort();
  const differing = paths.filter((path) => stored.fields[path] !== given.fields[path]);
  // Unreachable for two well-formed digests, but a whole-request mismatch must never read as "the same request".
  return differing.length ? differing : ['(root)'];
}

const RequestDigestSchema = z.object({
  v: z.literal(1),
  sha256: z.string(),
  fields: z.record(z.string(), z.string()),
});

/** The digest in a decoded memo value, or `undefined` when there is none (or not one of this version). */
export function readRequestDigest(memoValue: unknown): RequestDigest | undefined {
  const parsed = RequestDigestSchema.safeParse(memoValue);
  return parsed.success ? parsed.data : undefined;
}
