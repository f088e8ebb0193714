/**
 * Scenario 6: malformed requests across every API route. Each must get a 4xx in the error envelope; none may get a
 * 5xx, go unanswered, crash the API or start a workflow.
 */
import type { ChaosStack } from './stack';

export interface BadInputFigures {
  requests: number;
  routes: number;
  status4xx: number;
  status5xx: number;
  notEnvelope: number;
  noAnswer: number;
  workflowsStarted: number;
  problems: string[];
}

interface BadRequest {
  what: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent without the bearer token (or with a wrong one, when `headers` has one). */
  noAuth?: boolean;
}

const valid = {
  orderId: 'ord_chaos_valid',
  reason: 'order refunded',
  amount: { value: '12.60', currency: 'USD' },
  payment: { provider: 'circle', paymentId: '00000000-0000-4000-8000-000000000000' },
};
const override = { action: 'retryStep', step: 'carbon', operator: 'ops@example.com', reason: 'checked' };

/** Fields a request may leave out: sending without them is not malformed. */
const OPTIONAL = new Set(['reason', 'dryRun']);

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const json = (value: unknown) => JSON.stringify(value);

/** Malformed bodies for a route whose valid body is `good`. */
function bodies(good: Record<string, unknown>): Array<[string, string | Buffer]> {
  const cases: Array<[string, string | Buffer]> = [
    ['empty body', ''],
    ['not JSON', '{"orderId": '],
    ['JSON null', 'null'],
    ['JSON array', '[]'],
    ['a number', '42'],
    ['a string', '"refund"'],
    ['deeply nested arrays', nested(5000)],
    ['deeply nested objects', '{"a":'.repeat(2000) + '1' + '}'.repeat(2000)],
    ['__proto__ key', `{"__proto__":{"polluted":true},${json(good).slice(1)}`],
    ['constructor key', json({ ...good, constructor: { prototype: { polluted: true } } })],
    ['unknown field', json({ ...good, surprise: 1 })],
    ['NUL in a string', json({ ...good, reason: 'a\u0000b', operator: 'ops\u0000@example.com' })],
    ['RTL override in a string', json({ ...good, orderId: 'ord_\u202egnp', reason: '\u202e' })],
    ['lone surrogate', '{"orderId":"ord_\\ud800","reason":"x"}'],
    [
      'invalid UTF-8 bytes',
      Buffer.concat([Buffer.from('{"orderId":"ord_'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]),
    ],
    ['1 MB string', json({ ...good, reason: 'x'.repeat(1_000_000) })],
  ];
  for (const [key, value] of Object.entries(good)) {
    cases.push([`${key} a number`, json({ ...good, [key]: 12 })]);
    cases.push([`${key} an object`, json({ ...good, [key]: { nested: [1, 2] } })]);
    cases.push([`${key} null`, json({ ...good, [key]: null })]);
    if (!OPTIONAL.has(key))
      cases.push([`${key} missing`, json(Object.fromEntries(Object.entries(good).filter(([k]) => k !== key)))]);
    if (typeof value === 'string')
      cases.push([`${key} 10,000 characters`, json({ ...good, [key]: 'y'.repeat(10_000) })]);
  }
  return cases;
}

function requests(): BadRequest[] {
  const list: BadRequest[] = [];
  const post = (path: string, good: Record<string, unknown>) => {
    for (const [what, body] of bodies(good)) list.push({ what: `POST ${path}: ${what}`, method: 'POST', path, body });
    list.push({
      what: `POST ${path}: text/plain`,
      method: 'POST',
      path,
      body: json(good),
      headers: { 'content-type': 'text/plain' },
    });
    list.push({
      what: `POST ${path}: form`,
      method: 'POST',
      path,
      body: 'orderId=ord_1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    list.push({
      what: `POST ${path}: charset utf-16`,
      method: 'POST',
      path,
      body: json(good),
      headers: { 'content-type': 'application/json; charset=utf-16' },
    });
    list.push({
      what: `POST ${path}: gzip claimed`,
      method: 'POST',
      path,
      body: json(good),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    list.push({ what: `POST ${path}: no token`, method: 'POST', path, body: json(good), noAuth: true });
    list.push({
      what: `POST ${path}: wrong token`,
      method: 'POST',
      path,
      body: json(good),
      noAuth: true,
      headers: { authorization: 'Bearer wrong-token-0000000000' },
    });
    list.push({
      what: `POST ${path}: 2 MB body`,
      method: 'POST',
      path,
      body: json({ ...good, pad: 'z'.repeat(2_000_000) }),
    });
  };
  post('/v1/refunds', valid);
  post('/v1/refunds/ord_chaos_valid/overrides', override);
  post('/v1/refunds/overrides:batch', { orderIds: ['ord_chaos_valid'], override, dryRun: false });
  for (const id of [
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f%2e%2e%2f',
    'ord_%00',
    'ord_%E2%80%AE',
    'x'.repeat(10_000),
    '%ff%fe',
    'ord_<script>',
    "ord_'or'1'='1",
  ]) {
    list.push({ what: `GET /v1/refunds/{${id.slice(0, 20)}}`, method: 'GET', path: `/v1/refunds/${id}` });
    list.push({
      what: `POST /v1/refunds/{${id.slice(0, 20)}}/overrides`,
      method: 'POST',
      path: `/v1/refunds/${id}/overrides`,
      body: json(override),
    });
  }
  for (const query of [
    'status=bogus',
    'step=../',
    'pageSize=0',
    'pageSize=1e9',
    'pageToken=%00%00',
    '__proto__[x]=1',
    'constructor=1',
    'status=needs_attention&status=completed',
    'errorType=' + 'E'.repeat(5000),
  ]) {
    list.push({ what: `GET /v1/refunds?${query.slice(0, 30)}`, method: 'GET', path: `/v1/refunds?${query}` });
  }
  list.push({ what: 'GET /v1/refunds: no token', method: 'GET', path: '/v1/refunds', noAuth: true });
  list.push({
    what: 'GET /v1/refunds/{id}: wrong token',
    method: 'GET',
    path: '/v1/refunds/ord_1',
    noAuth: true,
    headers: { authorization: 'Basic Zm9vOmJhcg==' },
  });
  list.push({ what: 'PUT /v1/refunds', method: 'PUT', path: '/v1/refunds', body: json(valid) });
  list.push({ what: 'DELETE /v1/refunds/{id}', method: 'DELETE', path: '/v1/refunds/ord_1' });
  list.push({
    what: 'huge header',
    method: 'GET',
    path: '/v1/refunds/ord_1',
    headers: { 'x-padding': 'p'.repeat(20_000) },
  });
  for (const [what, body] of bodies({
    notificationType: 'payments',
    payment: { id: '00000000-0000-4000-8000-000000000000' },
  })) {
    list.push({
      what: `POST /v1/webhooks/circle: ${what}`,
      method: 'POST',
      path: '/v1/webhooks/circle',
      body,
      noAuth: true,
      headers: { 'x-webhook-secret': 'wrong-secret-000000000' },
    });
  }
  return list;
}

/** Sends each malformed request and checks its answer; counts workflows before and after. */
export async function badInputScenario(stack: ChaosStack, atLeast: number): Promise<BadInputFigures> {
  const before = (await stack.client.workflow.count()).count;
  let list = requests();
  while (list.length < atLeast) list = [...list, ...requests().map((r) => ({ ...r, what: `${r.what} (again)` }))];
  const figures: BadInputFigures = {
    requests: list.length,
    routes: new Set(
      list.map((r) => `${r.method} ${r.path.split('?')[0]!.replace(/\/refunds\/[^/]+/, '/refunds/{id}')}`),
    ).size,
    status4xx: 0,
    status5xx: 0,
    notEnvelope: 0,
    noAnswer: 0,
    workflowsStarted: 0,
    problems: [],
  };
  for (const request of list) {
    const headers: Record<string, string> = {
      ...(request.body !== undefined && { 'content-type': 'application/json' }),
      ...(!request.noAuth && { authorization: `Bearer ${stack.apiToken}` }),
      ...request.headers,
    };
    try {
      const response = await fetch(`${stack.apiUrl}${request.path}`, {
        method: request.method,
        headers,
        body: request.body,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      if (response.status >= 500) {
        figures.status5xx++;
        figures.problems.push(`${request.what}: ${response.status} ${text.slice(0, 200)}`);
      } else if (response.status >= 400) figures.status4xx++;
      else figures.problems.push(`${request.what}: accepted with ${response.status}`);
      let envelope = false;
      try {
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        envelope = typeof body.error?.code === 'string' && typeof body.error.message === 'string';
      } catch {
        envelope = false;
      }
      if (!envelope && response.status >= 400) {
        figures.notEnvelope++;
        figures.problems.push(`${request.what}: ${response.status} not in the envelope: ${text.slice(0, 120)}`);
      }
    } catch (err) {
      figures.noAnswer++;
      figures.problems.push(`${request.what}: no answer (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (!(await fetch(`${stack.apiUrl}/healthz`)).ok) figures.problems.push('the API no longer answers /healthz');
  figures.workflowsStarted = (await stack.client.workflow.count()).count - before;
  if (figures.workflowsStarted) figures.problems.push(`${figures.workflowsStarted} workflows started by bad input`);
  return figures;
}
