/** Credentials for API tests: bearer tokens mapped to principals, as a credentials file would map their hashes. */
import { hashedTokens, hashToken, type Authenticator, type Principal } from '../../src/api/auth';

/** An authenticator that knows exactly these tokens. */
export function tokens(principals: Record<string, Principal>): Authenticator {
  return hashedTokens(
    Object.entries(principals).map(([token, principal]) => ({ ...principal, tokenSha256: hashToken(token) })),
  );
}

/** One operator's token, the most the refund routes allow. */
export const operatorToken = (token: string, identity = 'ops'): Authenticator =>
  tokens({ [token]: { identity, role: 'operator' } });
