/**
 * Browser sessions, for what a browser calls without sending a bearer token itself: the Temporal UI's calls to the
 * codec server (with "Include cross-origin credentials") and the operator console. `/sign-in` takes a credential once
 * and sets a signed, HTTP-only cookie naming its principal for 8 hours; `POST /v1/session` does the same for a
 * script, `DELETE /v1/session` signs out.
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ROLES, type Authenticator, type Principal } from './auth';
import { authenticateRequests, principalOf } from './auth-hook';
import { ErrorEnvelope, json } from './response-schemas';
import { bearerToken } from './secrets';

export const SESSION_COOKIE = 'refund_saga_session';
const SESSION_MS = 8 * 3_600_000;

const SessionSchema = z.object({ identity: z.string(), role: z.enum(ROLES), exp: z.number() });
const SessionView = z.object({ identity: z.string(), role: z.enum(ROLES), expiresAt: z.iso.datetime() });

/** The cookie parser, with the secret session cookies are signed with; registered on the root of the API. */
export function registerCookies(app: FastifyInstance, secret: string): void {
  app.register(fastifyCookie, { secret });
}

/** The principal of a request: its bearer credential, else its session cookie (signed, unexpired). */
export async function requestPrincipal(
  request: FastifyRequest,
  authenticator: Authenticator,
): Promise<Principal | undefined> {
  const credential = bearerToken(request.headers.authorization);
  if (credential) return authenticator.authenticate(credential);
  const raw = request.cookies?.[SESSION_COOKIE];
  if (!raw) return undefined;
  const unsigned = request.unsignCookie(raw);
  if (!unsigned.valid || unsigned.value === null) return undefined;
  let session: z.infer<typeof SessionSchema>;
  try {
    session = SessionSchema.parse(JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')));
  } catch {
    return undefined;
  }
  return session.exp > Date.now() ? { identity: session.identity, role: session.role } : undefined;
}

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · refund-saga</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}
#out{margin-top:1rem}</style></head>
<body><h1>Sign in</h1>
<p>Your API credential (a token, or an OIDC token). The session lets the Temporal UI decode payloads through this API
(in the UI's codec server settings, use your browser's: this API's <code>/codec</code> endpoint, with "Include
cross-origin credentials" ticked) for 8 hours.</p>
<form id="f"><label>Credential <input id="t" type="password" autocomplete="off" required></label>
<button>Sign in</button></form><div id="out" role="status"></div>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = document.getElementById('out');
  const res = await fetch('/v1/session', { method: 'POST', headers: { authorization: 'Bearer ' + document.getElementById('t').value } });
  const body = await res.json();
  out.textContent = res.ok ? 'Signed in as ' + body.identity + ' (' + body.role + ') until ' + body.expiresAt : body.error.message;
});
</script></body></html>`;

/**
 * Sets the session cookie of `principal` on `reply`: signed, HTTP-only, SameSite=Strict, for 8 hours. Returns when it
 * expires, in epoch milliseconds.
 */
export function startSession(reply: FastifyReply, { identity, role }: Principal): number {
  const exp = Date.now() + SESSION_MS;
  const value = Buffer.from(JSON.stringify({ identity, role, exp })).toString('base64url');
  void reply.setCookie(SESSION_COOKIE, value, {
    signed: true,
    httpOnly: true,
    sameSite: 'strict',
    // Secure whenever the request came over HTTPS (behind a proxy: its X-Forwarded-Proto, with trustProxy).
    secure: 'auto',
    path: '/',
    maxAge: SESSION_MS / 1000,
  });
  return exp;
}

/** Ends the browser session: the cookie is dropped. */
export const endSession = (reply: FastifyReply) => reply.clearCookie(SESSION_COOKIE, { path: '/' });

/** `GET /sign-in`, and `POST`/`DELETE /v1/session` (registered under `/v1` by the caller's prefix). */
export async function sessionRoutes(
  api: FastifyInstance,
  options: { authenticator: Authenticator; rateLimitPerMinute: number },
): Promise<void> {
  await api.register(
    async (v1) => {
      await authenticateRequests(v1, options.authenticator, options.rateLimitPerMinute);
      v1.post(
        '/session',
        {
          schema: {
            // Browser plumbing, like /sign-in: kept out of the document the order service reads.
            hide: true,
            summary: 'Start a browser session for the credential sent (a signed cookie, 8 hours)',
            response: {
              200: json(SessionView, 'Signed in'),
              401: json(ErrorEnvelope, 'Missing or unknown credential'),
            },
          },
        },
        async (request, reply) => {
          const { identity, role } = principalOf(request);
          const exp = startSession(reply, { identity, role });
          return { identity, role, expiresAt: new Date(exp).toISOString() };
        },
      );
    },
    { prefix: '/v1' },
  );
  // Signing out needs no credential: it only tells the browser to drop its cookie.
  api.delete(
    '/v1/session',
    { schema: { hide: true, summary: 'End the browser session', response: { 204: z.null().describe('Signed out') } } },
    async (_request, reply) => endSession(reply).code(204).send(),
  );
  api.get('/sign-in', { schema: { hide: true } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(SIGN_IN_PAGE),
  );
}
