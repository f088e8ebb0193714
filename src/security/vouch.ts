/**
 * Vouched overrides (issue 13). Anyone who reaches Temporal can send an override naming any operator; the HTTP API,
 * which authenticates its callers, vouches for the overrides it sends with an HMAC in the `refund-saga-vouch` header,
 * and a worker that holds the same keys (`OVERRIDE_VOUCH_KEYS`) applies only vouched ones. Node only: the saga sees
 * the header through `src/workflows/override-vouch.ts` and has it checked by the `verifyOverride` local activity.
 *
 * The header is `{ v: 1, keyId, issuedAt, mac }`: no personal data and no secret, since it is written to history as it
 * is (headers bypass the payload codec). `mac` is the hex HMAC-SHA256, under the key `keyId` names, of the JSON array
 * `[namespace, workflowId, name, issuedAt, canonicalJson(args)]`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { z } from 'zod';
import { ConfigError, parseEnv } from '../config';
import { OVERRIDE_ACTIONS } from '../domain';
import { VOUCH_HEADER } from '../workflows/override-vouch';

export { VOUCH_HEADER };

/** The fewest secret bytes a key may have: HMAC-SHA256's own block of strength. */
const MIN_SECRET_BYTES = 32;

/** How far a vouch's `issuedAt` may be from the worker's clock, either way. */
export const VOUCH_MAX_SKEW_MS = 10 * 60_000;

/** One vouching key: the id a header names, and its secret. */
export interface VouchKey {
  /** 1-64 letters, digits, `_`, `.` or `-`; headers carry it, errors name it. */
  id: string;
  /** At least 32 random bytes; never logged, never in an error. */
  secret: Buffer;
}

/** The value of the `refund-saga-vouch` header. */
export interface VouchHeader {
  v: 1;
  keyId: string;
  /** When the vouch was made (ISO 8601, UTC). */
  issuedAt: string;
  /** Hex HMAC-SHA256; see the module's comment. */
  mac: string;
}

/** What {@link verifyVouch} found. */
export type VouchVerdict = { vouched: true; keyId: string } | { vouched: false; reason: string };

/** What a vouch is made for: the override message as the worker sees it. */
export interface VouchedCall {
  namespace: string;
  workflowId: string;
  /** The override's name: `skipStep`, `retryStep`, `confirmRecon`, `extendDeadline` or `abort`. */
  name: string;
  /** The message's arguments, as the workflow receives them. */
  args: readonly unknown[];
}

const OVERRIDE_NAMES: ReadonlySet<string> = new Set(OVERRIDE_ACTIONS);

const KeyIdSchema = z.string().regex(/^[\w.-]{1,64}$/, { error: 'id must be 1-64 letters, digits, "_", "." or "-"' });

const VouchKeySchema = z.strictObject({
  id: KeyIdSchema,
  secret: z
    .base64({ error: `secret must be base64 of at least ${MIN_SECRET_BYTES} bytes` })
    .transform((secret) => Buffer.from(secret, 'base64'))
    .refine((secret) => secret.length >= MIN_SECRET_BYTES, {
      error: `secret must be base64 of at least ${MIN_SECRET_BYTES} bytes`,
    }),
});

const VouchHeaderSchema = z.strictObject({
  v: z.literal(1),
  keyId: KeyIdSchema,
  issuedAt: z.iso.datetime(),
  mac: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * JSON with every object's keys sorted (by UTF-16 code units, as RFC 8785), so the API and the worker hash the same
 * text for the same arguments whatever their key order. `toJSON` and dropped `undefined` members behave as in
 * `JSON.stringify`, which is what the payload converter sends: the worker hashes what it received.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) =>
    member !== null && typeof member === 'object' && !Array.isArray(member)
      ? Object.fromEntries(
          Object.keys(member)
            .sort()
            .map((key) => [key, (member as Record<string, unknown>)[key]]),
        )
      : member,
  );
}

function mac(secret: Buffer, call: VouchedCall, issuedAt: string): Buffer {
  const text = JSON.stringify([call.namespace, call.workflowId, call.name, issuedAt, canonicalJson(call.args)]);
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

/** The vouch for `call`, made with the first (newest) of `keys` at `now`. */
export function makeVouch(keys: readonly VouchKey[], call: VouchedCall, now = new Date()): VouchHeader {
  const [key] = keys;
  if (!key) throw new Error('vouching needs at least one key');
  const issuedAt = now.toISOString();
  return { v: 1, keyId: key.id, issuedAt, mac: mac(key.secret, call, issuedAt).toString('hex') };
}

/**
 * A client interceptor that vouches for every override signal and update the client sends (`signal`,
 * `signalWithStart`, `startUpdate`, `startUpdateWithStart`; other messages pass as they are), with the first of
 * `keys`. `namespace` must be the client's: the vouch is bound to it.
 */
export function vouchInterceptor(
  keys: readonly VouchKey[],
  options: {
    namespace: string;
    /** The clock vouches are made by. @default () => new Date() */
    now?: () => Date;
  },
): WorkflowClientInterceptor {
  if (!keys.length) throw new Error('vouchInterceptor needs at least one key');
  const { namespace, now = () => new Date() } = options;
  const vouched = <H extends Record<string, Payload>>(headers: H, workflowId: string, name: string, args: unknown[]) =>
    OVERRIDE_NAMES.has(name)
      ? {
          ...headers,
          [VOUCH_HEADER]: defaultPayloadConverter.toPayload(
            makeVouch(keys, { namespace, workflowId, name, args }, now()),
          ),
        }
      : headers;
  return {
    signal: (input, next) =>
      next({
        ...input,
        headers: vouched(input.headers, input.workflowExecution.workflowId, input.signalName, input.args),
      }),
    signalWithStart: (input, next) =>
      next({
        ...input,
        headers: vouched(input.headers, input.options.workflowId, input.signalName, input.signalArgs),
      }),
    startUpdate: (input, next) =>
      next({
        ...input,
        headers: vouched(input.headers, input.workflowExecution.workflowId, input.updateName, input.args),
      }),
    startUpdateWithStart: (input, next) =>
      next({
        ...input,
        updateHeaders: vouched(
          input.updateHeaders,
          input.workflowStartOptions.workflowId,
          input.updateName,
          input.updateArgs,
        ),
      }),
  };
}

/** A header as the workflow decodes it, or still a payload (as a client interceptor made it). */
function headerValue(header: unknown): unknown {
  const payload = header as Partial<Payload> | null | undefined;
  return payload?.data instanceof Uint8Array && payload.metadata
    ? defaultPayloadConverter.fromPayload(payload)
    : header;
}

/**
 * Checks `header` (the decoded `refund-saga-vouch` header, or its payload) against `call` and `keys` at `now`: it must
 * name a key held, carry that key's MAC of the call, and be issued within {@link VOUCH_MAX_SKEW_MS} of `now`. The
 * reason says what failed, never what the secret or the arguments are.
 */
export function verifyVouch(
  keys: readonly VouchKey[],
  { header, now, ...call }: VouchedCall & { header: unknown; now: Date },
): VouchVerdict {
  let value: unknown;
  try {
    value = headerValue(header);
  } catch {
    return { vouched: false, reason: 'malformed vouch header (not JSON)' };
  }
  if (value === undefined || value === null) return { vouched: false, reason: 'no vouch header' };
  const parsed = VouchHeaderSchema.safeParse(value);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join('.') || 'header'))];
    return { vouched: false, reason: `malformed vouch header (${fields.join(', ')})` };
  }
  const vouch = parsed.data;
  const key = keys.find((k) => k.id === vouch.keyId);
  if (!key) return { vouched: false, reason: `unknown key id "${vouch.keyId}" (not among this worker's keys)` };
  const expected = mac(key.secret, call, vouch.issuedAt);
  if (!timingSafeEqual(Buffer.from(vouch.mac, 'hex'), expected)) {
    return { vouched: false, reason: `bad mac: the override is not the one key "${key.id}" vouched for` };
  }
  const skew = Date.parse(vouch.issuedAt) - now.getTime();
  if (Math.abs(skew) > VOUCH_MAX_SKEW_MS) {
    return {
      vouched: false,
      reason: `stale: issued at ${vouch.issuedAt}, more than ${VOUCH_MAX_SKEW_MS / 60_000} minutes ${skew < 0 ? 'ago' : 'ahead'}`,
    };
  }
  return { vouched: true, keyId: key.id };
}

/**
 * The vouching keys from `OVERRIDE_VOUCH_KEYS`: comma-separated `id:base64secret` (each secret at least 32 bytes;
 * `openssl rand -base64 32`), newest first; the first makes new vouches, all are accepted. Empty when unset, which
 * leaves a worker applying every override. Errors name the variable and the key's position and id, never a secret.
 */
export function overrideVouchKeys(env: NodeJS.ProcessEnv = process.env): VouchKey[] {
  // Only the variable's presence goes through parseEnv: its messages quote the value.
  const { OVERRIDE_VOUCH_KEYS: value } = parseEnv(z.object({ OVERRIDE_VOUCH_KEYS: z.string().optional() }), env);
  const items = (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const problems: string[] = [];
  const keys: VouchKey[] = [];
  for (const [index, item] of items.entries()) {
    const colon = item.indexOf(':');
    if (colon < 0) {
      problems.push(`key ${index} must be "id:base64secret" (keys are separated by ",")`);
      continue;
    }
    const id = item.slice(0, colon);
    const parsed = VouchKeySchema.safeParse({ id, secret: item.slice(colon + 1) });
    const named = KeyIdSchema.safeParse(id).success ? ` ("${id}")` : '';
    if (!parsed.success) {
      problems.push(`key ${index}${named}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    } else if (keys.some((k) => k.id === id)) {
      problems.push(`key ${index}${named}: id is given twice`);
    } else {
      keys.push(parsed.data);
    }
  }
  if (problems.length) throw new ConfigError(`invalid OVERRIDE_VOUCH_KEYS: ${problems.join('; ')}`);
  return keys;
}

/** A new key of 32 random bytes named `id` (for the dev stack and tests). */
export function generateVouchKey(id: string): VouchKey {
  const checked = KeyIdSchema.safeParse(id);
  if (!checked.success) throw new Error(`invalid vouch key id: ${checked.error.issues[0]!.message}`);
  return { id, secret: randomBytes(MIN_SECRET_BYTES) };
}

/** `keys` as the value of `OVERRIDE_VOUCH_KEYS` (for a process the dev stack starts). */
export function formatVouchKeys(keys: readonly VouchKey[]): string {
  return keys.map(({ id, secret }) => `${id}:${secret.toString('base64')}`).join(',');
}

/**
 * The interceptors of a client that sends overrides for authenticated callers (the API): tracing's, if any, then the
 * vouch when there are keys.
 */
export function apiClientInterceptors(
  keys: readonly VouchKey[],
  namespace: string,
  tracing?: { workflow: WorkflowClientInterceptor[] },
): { workflow: WorkflowClientInterceptor[] } {
  return {
    workflow: [...(tracing?.workflow ?? []), ...(keys.length ? [vouchInterceptor(keys, { namespace })] : [])],
  };
}
