/**
 * What every provider sandbox shares: a real HTTP server with routing, the provider's auth check, fault injection,
 * an effects ledger, settings (knobs), fixtures, reset and optional JSON-file persistence. Each provider's sandbox
 * extends {@link SandboxServer} with its routes and state.
 *
 * Admin API (no auth, loopback only):
 * - `POST /_sandbox/fixtures`  seed resources (provider-specific body)
 * - `POST /_sandbox/settings`  change knobs (provider-specific), `GET` shows them
 * - `POST /_sandbox/faults`    add a fault rule, `GET` lists, `DELETE` clears
 * - `GET  /_sandbox/ledger`    the ledger (`?resource=id` to filter), as
 *   `{ counts: { [resource]: { [effect]: n } }, duplicateAttempts: { [resource]: n }, entries: LedgerEntry[] }`
 * - `GET  /_sandbox/state`     the whole state, for debugging
 * - `POST /_sandbox/reset`     forget everything
 *
 * The ledger holds effects (`cancellation`, `void`, `refund`, `reversal`, …), on which "exactly once" is asserted, and
 * duplicate attempts: a cancel of a resource this sandbox already cancelled, sent as another request than the one that
 * cancelled it (another idempotency key, or what the provider tells a repeat by), which the provider refused or
 * answered without a change. A duplicate attempt is an entry with `effect: "duplicate_attempt"` whose `detail` names
 * the request (`key`, its idempotency key; 1ClickImpact's `reason`) and the cancel it repeats (`cancelledWithKey`,
 * `cancelledWithReason`); one request counts once however often it is retried. It changed nothing, so `counts` leaves
 * it out and `duplicateAttempts` counts it. A replay of the cancelling request is no duplicate attempt, nor is a cancel
 * refused for another reason (window closed, not eligible, not found) or of a resource seeded as already cancelled.
 * `entries` lists both kinds, in order; `ledgerEntries()` gives the effects and `duplicateAttempts()` the attempts.
 * Persistence keeps them and reset clears them.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ProviderName } from './errors';

/** A parsed request as a route handler sees it. */
export interface SandboxRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** JSON or form-encoded body, parsed; `undefined` when empty. */
  body: unknown;
}

/** A route's answer. */
export interface SandboxReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One provider endpoint; `name` is what fault rules refer to. */
export interface SandboxRoute {
  name: string;
  method: 'GET' | 'POST';
  /** Path with `:param` segments, e.g. `/v1/payments/:id/cancel`. */
  path: string;
  handle(request: SandboxRequest): SandboxReply;
}

/** A fault rule, applied to requests of one route (or `*`). */
export const FaultRuleSchema = z.strictObject({
  /** Route name (see each sandbox's routes) or `*` for every route. */
  route: z.string().min(1),
  /** Delay added before answering. */
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  /** Fraction of requests (0–1) that fail with `status`. */
  errorRate: z.number().min(0).max(1).optional(),
  /** Fail exactly the next N matching requests with `status`. */
  failNext: z.number().int().min(1).optional(),
  /** Status of injected failures; 429 answers carry `Retry-After`. @default 503 */
  status: z.number().int().min(400).max(599).default(503),
  /** `Retry-After` seconds on injected 429s. @default 1 */
  retryAfterSeconds: z.number().int().min(0).default(1),
  /** Never answer: the request hangs until the client gives up. */
  hang: z.boolean().optional(),
  /** Answer 200 with a body that matches no schema of the provider. */
  malformed: z.boolean().optional(),
  /**
   * `before`: fail without touching state. `after`: apply the request, then lose the answer (the client sees the
   * failure, the effect happened) — the case idempotency keys exist for.
   * @default 'before'
   */
  when: z.enum(['before', 'after']).default('before'),
});
export type FaultRule = z.infer<typeof FaultRuleSchema>;
type FaultRuleInput = z.input<typeof FaultRuleSchema>;

/** The `effect` of a ledger entry that records a duplicate cancel attempt, which is no effect. */
export const DUPLICATE_ATTEMPT = 'duplicate_attempt';

/** One effective state change, or a duplicate attempt ({@link DUPLICATE_ATTEMPT}). */
export interface LedgerEntry {
  resource: string;
  effect: string;
  at: string;
  detail?: Record<string, unknown>;
}

/** Options of every sandbox. */
export interface SandboxOptions {
  /** The API key the sandbox accepts. */
  apiKey?: string;
  /** JSON file that keeps state across restarts; none by default. */
  statePath?: string;
  /** Called with one line per request. */
  log?: (line: string) => void;
  /** The sandbox's clock, for tests. @default Date.now */
  now?: () => number;
}

interface Compiled {
  route: SandboxRoute;
  pattern: RegExp;
  keys: string[];
}

class AdminError extends Error {}

/** Base of the five provider sandboxes. */
export abstract class SandboxServer<State, Settings extends object> {
  abstract readonly provider: ProviderName;
  /** The dev API key this sandbox accepts unless `apiKey` is given. */
  abstract readonly defaultApiKey: string;
  protected state: State;
  protected settings: Settings;
  private ledger: LedgerEntry[] = [];
  private faults: Array<FaultRule & { id: string; remaining?: number }> = [];
  private server?: Server;
  private compiled?: Compiled[];
  private readonly hanging = new Set<ServerResponse>();
  protected readonly now: () => number;

  constructor(private readonly options: SandboxOptions = {}) {
    this.now = options.now ?? Date.now;
    this.state = this.emptyState();
    this.settings = this.defaultSettings();
  }

  /** The provider's endpoints. */
  protected abstract routes(): SandboxRoute[];
  /** Whether the request carries this sandbox's key, in the provider's auth scheme. */
  protected abstract authorized(headers: IncomingHttpHeaders, key: string): boolean;
  /** An error in the provider's own shape. */
  protected abstract errorReply(status: number, code: string, message: string): SandboxReply;
  /** Seeds resources from a `POST /_sandbox/fixtures` body; returns what was created. */
  protected abstract seed(body: unknown): unknown;
  protected abstract emptyState(): State;
  protected abstract defaultSettings(): Settings;
  /** Schema of `POST /_sandbox/settings` bodies. */
  protected abstract settingsSchema(): z.ZodType<Partial<Settings>>;
  /**
   * Called when an injected fault answers `reply` without applying the request (`when: "before"`; not for hangs,
   * malformed answers, 429s or bodies that do not parse): a provider that stores answers under idempotency keys
   * (Stripe) stores this one too.
   */
  protected failedBeforeHandling(_route: SandboxRoute, _request: SandboxRequest, _reply: SandboxReply): void {}
  /** Header carrying the provider's request id, if it has one. */
  protected requestIdHeader?: string;
  protected newRequestId(): string {
    return `req_${randomUUID()}`;
  }

  /** The API key requests must carry. */
  get apiKey(): string {
    return this.options.apiKey ?? this.defaultApiKey;
  }

  /** Records an effective state change; "exactly once" is asserted on these. */
  protected record(resource: string, effect: string, detail?: Record<string, unknown>): void {
    this.ledger.push({ resource, effect, at: new Date(this.now()).toISOString(), detail });
  }

  /**
   * Records a duplicate attempt on `resource`; `detail` names the request and the cancel it repeats. The same request
   * again is a retry of one attempt: it is recorded once.
   */
  protected recordDuplicateAttempt(resource: string, detail: Record<string, unknown>): void {
    const same = JSON.stringify(detail);
    if (this.duplicateAttempts(resource).some((e) => JSON.stringify(e.detail) === same)) return;
    this.record(resource, DUPLICATE_ATTEMPT, detail);
  }

  /** Validates an admin or request body, turning schema errors into a 400 the caller can read. */
  protected parseAdmin<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new AdminError(
        parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; '),
      );
    }
    return parsed.data;
  }

  /** Starts listening; resolves with the base URL. Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.load();
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        this.dispatch(req.method ?? 'GET', req.url ?? '/', req.headers, raw, res).catch((err: unknown) => {
          this.write(res, this.errorReply(500, 'server_error', String(err)));
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    const address = this.server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  /** Stops the server, ending hanging requests. */
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** Effective state changes, optionally for one resource. */
  ledgerEntries(resource?: string): LedgerEntry[] {
    return this.ledgerOf(resource).filter((e) => e.effect !== DUPLICATE_ATTEMPT);
  }

  /** Duplicate cancel attempts, optionally for one resource. */
  duplicateAttempts(resource?: string): LedgerEntry[] {
    return this.ledgerOf(resource).filter((e) => e.effect === DUPLICATE_ATTEMPT);
  }

  /** The whole ledger, effects and duplicate attempts in order, optionally for one resource. */
  private ledgerOf(resource?: string): LedgerEntry[] {
    return resource ? this.ledger.filter((e) => e.resource === resource) : [...this.ledger];
  }

  /** Adds a fault rule, as `POST /_sandbox/faults` does. */
  addFault(rule: FaultRuleInput): string {
    const parsed = this.parseAdmin(FaultRuleSchema, rule);
    const known = this.routes().map((r) => r.name);
    if (parsed.route !== '*' && !known.includes(parsed.route)) {
      throw new AdminError(`route: unknown route "${parsed.route}"; this sandbox has ${known.join(', ')} and *`);
    }
    const id = `fault_${this.faults.length + 1}`;
    this.faults.push({ ...parsed, id, remaining: parsed.failNext });
    return id;
  }

  /** Seeds fixtures, as `POST /_sandbox/fixtures` does. */
  addFixtures(body: unknown): unknown {
    const created = this.seed(body);
    this.persist();
    return created;
  }

  /** Changes knobs, as `POST /_sandbox/settings` does. */
  configure(settings: Partial<Settings>): Settings {
    this.settings = { ...this.settings, ...this.parseAdmin(this.settingsSchema(), settings) };
    this.persist();
    return this.settings;
  }

  /** Forgets all state, ledger, faults and settings. */
  reset(): void {
    this.state = this.emptyState();
    this.settings = this.defaultSettings();
    this.ledger = [];
    this.faults = [];
    this.persist();
  }

  private matchRoute(
    method: string,
    path: string,
  ): { route: SandboxRoute; params: Record<string, string> } | undefined {
    this.compiled ??= this.routes().map((route) => {
      const keys: string[] = [];
      const source = route.path.replace(/:([A-Za-z]+)/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      });
      return { route, pattern: new RegExp(`^${source}$`), keys };
    });
    for (const { route, pattern, keys } of this.compiled) {
      if (route.method !== method) continue;
      const match = pattern.exec(path);
      if (match) {
        return { route, params: Object.fromEntries(keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)])) };
      }
    }
    return undefined;
  }

  private async dispatch(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    raw: string,
    res: ServerResponse,
  ) {
    const url = new URL(rawUrl, 'http://sandbox');
    this.options.log?.(`${this.provider} ${method} ${url.pathname}${url.search}`);
    if (url.pathname.startsWith('/_sandbox/')) {
      this.write(res, this.admin(method, url, raw));
      return;
    }
    const matched = this.matchRoute(method, url.pathname);
    if (!matched) {
      this.write(res, this.errorReply(404, 'not_found', `no route ${method} ${url.pathname}`));
      return;
    }
    if (!this.authorized(headers, this.apiKey)) {
      this.write(res, this.errorReply(401, 'not_authorized', 'invalid or missing API key'));
      return;
    }

    const fault = this.takeFault(matched.route.name);
    if (fault?.latencyMs) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
    if (fault?.hang) {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (fault?.malformed) {
      this.write(res, { status: 200, body: { sandbox: 'malformed body', data: { id: 42 } } });
      return;
    }
    let body: unknown;
    let parsed = true;
    try {
      body = parseBody(raw, headers['content-type']);
    } catch {
      parsed = false;
    }
    const request = { method, path: url.pathname, params: matched.params, query: url.searchParams, headers, body };
    if (fault?.fail && fault.when === 'before') {
      const reply = this.faultReply(fault);
      // A throttled request or an unreadable body never reached the API; any other injected failure did.
      if (parsed && reply.status !== 429) {
        this.failedBeforeHandling(matched.route, request, reply);
        this.persist();
      }
      this.write(res, reply);
      return;
    }
    if (!parsed) {
      this.write(res, this.errorReply(400, 'invalid_request', 'request body is not valid JSON'));
      return;
    }
    const reply = matched.route.handle(request);
    // Reads persist too: they may materialise a due settlement or reversal.
    this.persist();
    this.write(res, fault?.fail ? this.faultReply(fault) : reply);
  }

  private takeFault(routeName: string): (FaultRule & { fail: boolean }) | undefined {
    const rule = this.faults.find(
      (f) => (f.route === routeName || f.route === '*') && (f.remaining === undefined || f.remaining > 0),
    );
    if (!rule) return undefined;
    let fail = false;
    if (rule.remaining !== undefined) {
      rule.remaining -= 1;
      fail = true;
    } else if (rule.errorRate !== undefined) {
      fail = Math.random() < rule.errorRate;
    }
    return { ...rule, fail };
  }

  private faultReply(rule: FaultRule): SandboxReply {
    const reply = this.errorReply(rule.status, rule.status === 429 ? 'rate_limited' : 'server_error', 'injected fault');
    if (rule.status === 429) reply.headers = { ...reply.headers, 'retry-after': String(rule.retryAfterSeconds) };
    return reply;
  }

  private admin(method: string, url: URL, raw: string): SandboxReply {
    try {
      const body = raw ? (JSON.parse(raw) as unknown) : undefined;
      const route = `${method} ${url.pathname}`;
      switch (route) {
        case 'POST /_sandbox/fixtures':
          return { status: 201, body: { created: this.addFixtures(body) } };
        case 'GET /_sandbox/settings':
          return { status: 200, body: this.settings };
        case 'POST /_sandbox/settings':
          return { status: 200, body: this.configure(body as Partial<Settings>) };
        case 'GET /_sandbox/faults':
          return { status: 200, body: { faults: this.faults } };
        case 'POST /_sandbox/faults':
          return { status: 201, body: { id: this.addFault(body as FaultRuleInput) } };
        case 'DELETE /_sandbox/faults':
          this.faults = [];
          return { status: 200, body: { faults: [] } };
        case 'GET /_sandbox/ledger':
          return { status: 200, body: ledgerView(this.ledgerOf(url.searchParams.get('resource') ?? undefined)) };
        case 'GET /_sandbox/state':
          return { status: 200, body: { state: this.state, settings: this.settings } };
        case 'POST /_sandbox/reset':
          this.reset();
          return { status: 200, body: { reset: true } };
        default:
          return { status: 404, body: { error: `no admin route ${route}` } };
      }
    } catch (err) {
      if (err instanceof AdminError || err instanceof SyntaxError) return { status: 400, body: { error: err.message } };
      throw err;
    }
  }

  private write(res: ServerResponse, reply: SandboxReply): void {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...reply.headers };
    if (this.requestIdHeader) headers[this.requestIdHeader] = this.newRequestId();
    res.writeHead(reply.status, headers);
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  }

  private load(): void {
    const path = this.options.statePath;
    if (!path || !existsSync(path)) return;
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { state: State; settings: Settings; ledger: LedgerEntry[] };
    // A state file from before a field was added to the state lacks it.
    this.state = { ...this.emptyState(), ...saved.state };
    this.settings = { ...this.defaultSettings(), ...saved.settings };
    this.ledger = saved.ledger;
  }

  /** Writes the state file, when persistence is on. */
  protected persist(): void {
    const path = this.options.statePath;
    if (!path) return;
    writeFileSync(`${path}.tmp`, JSON.stringify({ state: this.state, settings: this.settings, ledger: this.ledger }));
    renameSync(`${path}.tmp`, path);
  }
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (!raw) return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  return JSON.parse(raw) as unknown;
}

/**
 * The ledger as `GET /_sandbox/ledger` shows it: counts of effects per resource and effect, counts of duplicate
 * attempts per resource, and the entries.
 */
function ledgerView(entries: LedgerEntry[]) {
  const counts: Record<string, Record<string, number>> = {};
  const duplicateAttempts: Record<string, number> = {};
  for (const { resource, effect } of entries) {
    if (effect === DUPLICATE_ATTEMPT) {
      duplicateAttempts[resource] = (duplicateAttempts[resource] ?? 0) + 1;
      continue;
    }
    counts[resource] ??= {};
    counts[resource][effect] = (counts[resource][effect] ?? 0) + 1;
  }
  return { counts, duplicateAttempts, entries };
}
