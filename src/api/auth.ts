/**
 * Who a caller of the API is: every credential maps to an identity and a role. Credentials come from a file of hashed
 * tokens (`API_CREDENTIALS_FILE`), from OIDC JWTs verified against a JWKS file (`API_JWKS_FILE`), or from the single
 * `API_TOKEN`. A role says what its holder may do ({@link PERMISSIONS}); an override's `operator` is the identity.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { z } from 'zod';

export const ROLES = ['order-service', 'operator', 'finance'] as const;
export type Role = (typeof ROLES)[number];

/** What a role may do. */
export const PERMISSIONS = {
  /** Start refunds. */
  start: ['order-service', 'operator'],
  /** Read one refund, or list them. */
  read: ['order-service', 'operator', 'finance'],
  /** Send overrides, one saga at a time or in batches. */
  override: ['operator'],
  /** Read decrypted payloads through the codec server (the Temporal UI). */
  decode: ['operator', 'finance'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

/** An authenticated caller. */
export interface Principal {
  /** Who: an email or a service name; an override's `operator`. */
  identity: string;
  role: Role;
}

/** Maps a bearer credential to its principal; undefined when it is none of the configured ones. */
export interface Authenticator {
  authenticate(credential: string): Promise<Principal | undefined>;
}

/** True when `role` may do `permission`. */
export const may = (role: Role, permission: Permission): boolean =>
  (PERMISSIONS[permission] as readonly Role[]).includes(role);

/** The hex SHA-256 of a token: what a credentials file holds instead of the token. */
export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const IdentitySchema = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(100, { error: 'must be at most 100 characters' });
const RoleSchema = z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` });

/** A credentials file: each entry an identity, its role and the SHA-256 of its token (`printf '%s' "$TOKEN" | sha256sum`). */
export const CredentialsFileSchema = z.strictObject({
  credentials: z
    .array(
      z.strictObject({
        identity: IdentitySchema,
        role: RoleSchema,
        tokenSha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits (sha256 of the token)' }),
      }),
    )
    .min(1, { error: 'must name at least one credential' }),
});
export type CredentialsFile = z.infer<typeof CredentialsFileSchema>;

/** Credentials by the hash of their token. A lookup by digest tells a caller nothing of any configured token. */
export function hashedTokens(entries: CredentialsFile['credentials']): Authenticator {
  const byHash = new Map<string, Principal>();
  for (const [i, { identity, role, tokenSha256 }] of entries.entries()) {
    if (byHash.has(tokenSha256)) throw new Error(`credentials.${i}: the same token hash as another credential`);
    byHash.set(tokenSha256, { identity, role });
  }
  return { authenticate: (credential) => Promise.resolve(byHash.get(hashToken(credential))) };
}

/** Settings of {@link jwtAuthenticator}. */
export interface JwtSettings {
  jwks: JSONWebKeySet;
  issuer: string;
  audience: string;
  /** The claim naming the role. @default 'refund_saga_role' */
  roleClaim?: string;
}

/**
 * OIDC JWTs signed by a key of the JWKS, with the issuer and audience given; the identity is the `email` claim, else
 * `sub`, and the role the `roleClaim` claim. A token that fails any check, or names no known role, is no credential.
 */
export function jwtAuthenticator({
  jwks,
  issuer,
  audience,
  roleClaim = 'refund_saga_role',
}: JwtSettings): Authenticator {
  const keys = createLocalJWKSet(jwks);
  return {
    async authenticate(credential) {
      if (credential.split('.').length !== 3) return undefined;
      try {
        const { payload } = await jwtVerify(credential, keys, { issuer, audience });
        const identity = IdentitySchema.safeParse(payload.email ?? payload.sub);
        const role = RoleSchema.safeParse(payload[roleClaim]);
        return identity.success && role.success ? { identity: identity.data, role: role.data } : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** The first authenticator that knows the credential answers. */
export function anyOf(...authenticators: Authenticator[]): Authenticator {
  return {
    async authenticate(credential) {
      for (const a of authenticators) {
        const principal = await a.authenticate(credential);
        if (principal) return principal;
      }
      return undefined;
    },
  };
}

/** Reads and checks a credentials file; errors name the file and the entry. */
export function readCredentialsFile(path: string): Authenticator {
  const parsed = CredentialsFileSchema.safeParse(readJson(path));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`${path}: ${issues.join('; ')}`);
  }
  return hashedTokens(parsed.data.credentials);
}

/** Reads a JWKS file (`{ "keys": [...] }`). */
export function readJwksFile(path: string): JSONWebKeySet {
  const parsed = z
    .object({ keys: z.array(z.looseObject({ kty: z.string() })).min(1, { error: 'must hold at least one key' }) })
    .safeParse(readJson(path));
  if (!parsed.success) throw new Error(`${path}: not a JWKS (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path}: not JSON`);
  }
}

/** The credentials `apiConfig` names, as one authenticator; undefined when none is configured. */
export function authenticatorFrom(settings: {
  credentialsFile?: string;
  jwt?: { jwksFile: string; issuer: string; audience: string; roleClaim: string };
  token?: { token: string } & Principal;
}): Authenticator | undefined {
  const sources: Authenticator[] = [];
  if (settings.credentialsFile) sources.push(readCredentialsFile(settings.credentialsFile));
  if (settings.jwt) sources.push(jwtAuthenticator({ ...settings.jwt, jwks: readJwksFile(settings.jwt.jwksFile) }));
  if (settings.token) {
    const { token, identity, role } = settings.token;
    sources.push(hashedTokens([{ identity, role, tokenSha256: hashToken(token) }]));
  }
  return sources.length ? anyOf(...sources) : undefined;
}
