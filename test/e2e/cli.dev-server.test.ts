import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { SagaStatusView } from '../../src/domain';
import { startRefund } from '../../src/client';
import { FAST_POLLING, seedOrder, useSagaStack } from '../support/stack';

const stack = useSagaStack();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
  process.env.TEMPORAL_TASK_QUEUE = stack().taskQueue;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  delete process.env.TEMPORAL_TASK_QUEUE;
});

/** Runs the CLI against the test stack's client and returns its exit code and output. */
async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, () =>
    Promise.resolve(stack().env.client),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('operator CLI over the real stack', () => {
  it('starts a refund from a file, and a second start reports the existing saga', async () => {
    const request = seedOrder(stack().sandboxes);
    const file = join(dir, 'refund.json');
    writeFileSync(file, JSON.stringify(request));
    const first = await cli('start', file);
    expect(first).toMatchObject({ code: 0, out: expect.stringContaining(`started refund-${request.orderId}`) });
    const again = await cli('start', file, '-o', 'json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ workflowId: `refund-${request.orderId}`, alreadyExisted: true });
  });

  it('refuses to start a file whose request differs from the one that started the saga, exiting 1 with one line', async () => {
    const { carbon, ...withoutCarbon } = seedOrder(stack().sandboxes);
    const first = join(dir, 'without-carbon.json');
    writeFileSync(first, JSON.stringify(withoutCarbon));
    expect((await cli('start', first)).code).toBe(0);

    const corrected = join(dir, 'corrected.json');
    writeFileSync(corrected, JSON.stringify({ ...withoutCarbon, carbon, amount: { value: '11.00', currency: 'USD' } }));
    const refused = await cli('start', corrected);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`refund-${withoutCarbon.orderId}`);
    expect(refused.err).toContain('amount.value, carbon.orderId, carbon.provider');
    expect(refused.err.split('\n')).toHaveLength(1);
    expect(refused.out).toBe('');
  });

  it('shows a stuck saga in the needs-attention list and its status table, and an override unblocks it', async () => {
    const request = seedOrder(stack().sandboxes, { stripeAgeSeconds: 25 * 3600 });
    const file = join(dir, 'stuck.json');
    writeFileSync(file, JSON.stringify(request));
    expect((await cli('start', file)).code).toBe(0);

    const deadline = Date.now() + 15_000;
    let listed = await cli('list', '--status', 'needs_attention');
    while (!listed.out.includes(request.orderId) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      listed = await cli('list', '--status', 'needs_attention');
    }
    expect(listed.out).toContain(request.orderId);

    const status = await cli('status', request.orderId);
    expect(status.out).toMatch(/carbon\s+blocked\s+1\s+.*WindowClosed: Climate order .* 24 h/);
    expect(status.out).toContain(`next: refund-saga override ${request.orderId} retryStep|skipStep --step carbon`);

    const override = await cli(
      'override',
      request.orderId,
      'skipStep',
      '--step',
      'carbon',
      '--operator',
      'ops',
      '--reason',
      'refunded by hand',
      '-o',
      'json',
    );
    expect(override.code).toBe(0);
    expect(JSON.parse(override.out) as SagaStatusView).toMatchObject({ steps: { carbon: { state: 'skipped' } } });

    const refused = await cli(
      'override',
      request.orderId,
      'retryStep',
      '--step',
      'carbon',
      '--operator',
      'ops',
      '--reason',
      'again',
    );
    expect(refused).toMatchObject({ code: 1, err: expect.stringContaining('rejected: step carbon is skipped') });

    // --watch re-renders until the saga ends; the abort below ends it (the saga waits an hour between Circle checks).
    const watching = cli('status', request.orderId, '--watch');
    const aborted = await cli(
      'override',
      request.orderId,
      'abort',
      '--operator',
      'ops',
      '--reason',
      'customer disputes',
    );
    expect(aborted.code).toBe(0);
    const watched = await watching;
    expect(watched.err).toBe('');
    expect(watched.code).toBe(0);
    expect(watched.out).toContain('… watching (every 2 s');
    expect(watched.out).toContain(`order ${request.orderId}: aborted`);
  });

  it.each([
    [['status', 'bad id'], 'orderId must be 1-64 characters'],
    [['start'], "missing required argument 'file'"],
    [['override', 'ord_1', 'skipStep', '--step', 'carbon'], 'operator is required'],
    [['list', '--status', 'stuck'], '--status must be one of'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['list', '--step', 'shipping'], '--step must be one of payment, carbon, impact, recon'],
    [['list', '--carbon-provider', 'paypal'], '--carbon-provider must be one of stripe_climate, squake, none'],
    [['list', '--page-token', 'garbage!!'], '--page-token'],
    [['override', 'ord_1', 'abort', '--operator', 'ops', '--reason', 'r', '--id', 'not a key!'], '--id must be'],
    [['override', '--where', "RefundStep = 'carbon'", '--orders', 'ord_1', 'abort'], 'exactly one of'],
    [['override', '--orders', 'ord_1,bad id', 'abort', '--operator', 'ops', '--reason', 'r'], '--orders'],
    [['override', '--where', "Colour = 'red'", 'abort', '--operator', 'ops', '--reason', 'r'], '--where'],
    [['status', 'ord_1', '--colour'], "unknown option '--colour'"],
  ])('exits 2 with one line for bad input: %j', async (argv, message) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err.split('\n')).toHaveLength(1);
  });

  it('exits 1 with "the saga has ended" for an override to a finished saga', async () => {
    const { env, sandboxes, taskQueue } = stack();
    const request = seedOrder(sandboxes);
    await startRefund(env.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    await env.client.workflow.getHandle(`refund-${request.orderId}`).result();
    const ended = await cli('override', request.orderId, 'abort', '--operator', 'ops', '--reason', 'too late');
    expect(ended).toMatchObject({ code: 1, err: 'refund-saga: rejected: the saga has ended (completed)' });
  });

  it('applies an extendDeadline sent twice with one --id once: the deadline moves once, one override is listed', async () => {
    const { env, sandboxes, taskQueue } = stack();
    // Circle settles this cancel in an hour, and is next read in an hour (an extension reads it at once): the payment
    // step waits, with its deadline, for the whole test.
    const request = { ...seedOrder(sandboxes, { settleDelayMs: 3_600_000 }), recon: null };
    const { workflowId } = await startRefund(env.client, request, {
      taskQueue,
      sagaOptions: { pollInitialMs: 3_600_000, settlementDeadlineMs: 600_000 },
    });
    const status = async () => {
      const shown = await cli('status', request.orderId, '-o', 'json');
      expect(shown.code).toBe(0);
      return JSON.parse(shown.out) as SagaStatusView;
    };
    try {
      const deadline = Date.now() + 15_000;
      let waiting = await status();
      while (!(waiting.steps.payment.state === 'waiting' && waiting.steps.payment.deadline) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        waiting = await status();
      }
      expect(waiting.steps.payment).toMatchObject({ state: 'waiting', deadline: expect.any(String) });
      const before = Date.parse(waiting.steps.payment.deadline!);
      const extend = [
        'override',
        request.orderId,
        'extendDeadline',
        '--step',
        'payment',
        '--duration',
        '1h',
        '--operator',
        'ops',
        '--reason',
        'Circle slow',
        '-o',
        'json',
      ];

      const first = await cli(...extend, '--id', 'ticket-4711:extend');
      expect(first.code).toBe(0);
      const extended = JSON.parse(first.out) as SagaStatusView;
      expect(Date.parse(extended.steps.payment.deadline!) - before).toBeGreaterThanOrEqual(3_600_000);
      // Sent again with the same id (a retry after a lost answer): the first outcome, not a second hour.
      const again = await cli(...extend, '--id', 'ticket-4711:extend');
      expect(again.code).toBe(0);
      expect((JSON.parse(again.out) as SagaStatusView).steps.payment.deadline).toBe(extended.steps.payment.deadline);
      const now = await status();
      expect(now.steps.payment.deadline).toBe(extended.steps.payment.deadline);
      expect(now.overrides.filter((o) => o.action === 'extendDeadline')).toHaveLength(1);

      // Without --id each command is its own override: the same command moves the deadline again.
      expect((await cli(...extend)).code).toBe(0);
      const twice = await status();
      expect(
        Date.parse(twice.steps.payment.deadline!) - Date.parse(extended.steps.payment.deadline!),
      ).toBeGreaterThanOrEqual(3_600_000);
      expect(twice.overrides.filter((o) => o.action === 'extendDeadline')).toHaveLength(2);
    } finally {
      await env.client.workflow.getHandle(workflowId).terminate('test over');
    }
  });

  it('lists with the blocked step’s error, filters by step, prints the next page token and follows it with --all', async () => {
    const { sandboxes } = stack();
    const stuck = seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 });
    const file = join(dir, 'stuck-list.json');
    writeFileSync(file, JSON.stringify(stuck));
    expect((await cli('start', file)).code).toBe(0);
    const deadline = Date.now() + 15_000;
    let listed = await cli('list', '--status', 'needs_attention', '--step', 'carbon');
    while (!listed.out.includes('WindowClosed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      listed = await cli('list', '--status', 'needs_attention', '--step', 'carbon');
    }
    expect(listed.out).toMatch(
      new RegExp(`${stuck.orderId}\\s+needs_attention\\s+carbon\\s+.*WindowClosed: Climate order`),
    );

    const onePage = await cli('list', '--page-size', '1');
    expect(onePage.out).toMatch(/next page: refund-saga list --page-size 1 --page-token \S+/);
    // The next page is asked of the same namespace: the command repeats the connection flags it was given.
    const named = await cli('list', '--page-size', '1', '-n', 'default');
    expect(named.out).toMatch(/next page: refund-saga list --page-size 1 --page-token \S+ -n default {2}\(or --all\)/);
    const everything = await cli('list', '--page-size', '1', '--all', '-o', 'json');
    expect(everything.code).toBe(0);
    const all = JSON.parse(everything.out) as { refunds: Array<{ orderId: string }>; nextPageToken?: string };
    expect(all.refunds.length).toBeGreaterThan(1);
    expect(all.refunds.map((r) => r.orderId)).toContain(stuck.orderId);
    expect(all.nextPageToken).toBeUndefined();
  });

  it('applies a bulk override to listed orders after a dry run, a line per saga and a summary, exit 1 when one is refused', async () => {
    const { sandboxes, taskQueue } = stack();
    const stuck = [0, 1].map(() => seedOrder(sandboxes, { stripeAgeSeconds: 25 * 3600 }));
    for (const [i, request] of stuck.entries()) {
      const file = join(dir, `bulk-${i}.json`);
      writeFileSync(file, JSON.stringify(request));
      expect((await cli('start', file)).code).toBe(0);
    }
    const where = `TaskQueue = '${taskQueue}' AND RefundStatus = 'needs_attention' AND RefundStep = 'carbon'`;
    const deadline = Date.now() + 15_000;
    const bulk = [
      'override',
      '--where',
      where,
      'skipStep',
      '--step',
      'carbon',
      '--operator',
      'ops',
      '--reason',
      'outage',
    ];
    let dry = await cli(...bulk);
    while (!stuck.every((r) => dry.out.includes(r.orderId)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      dry = await cli(...bulk);
    }
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('dry run: skipStep would be sent to');
    expect(dry.out).toContain('--apply');

    const orders = [...stuck.map((r) => r.orderId), 'ord_never_refunded'].join(',');
    const args = [
      'override',
      '--orders',
      orders,
      'skipStep',
      '--step',
      'carbon',
      '--operator',
      'ops',
      '--reason',
      'outage',
    ];
    const applied = await cli(...args, '--apply', '--concurrency', '2');
    expect(applied.code).toBe(1);
    for (const request of stuck) expect(applied.out).toMatch(new RegExp(`\\[\\d/3\\] ${request.orderId} accepted`));
    expect(applied.out).toMatch(/\[\d\/3\] ord_never_refunded failed: no refund for order ord_never_refunded/);
    expect(applied.out).toContain('2 accepted, 0 refused, 1 failed (of 3)');

    // The carbon steps are skipped now (or their sagas have ended): a second batch is refused saga by saga.
    const again = await cli(...args, '--apply');
    expect(again).toMatchObject({ code: 1, out: expect.stringContaining('0 accepted, 2 refused, 1 failed (of 3)') });
  });

  it('says so when the order has no refund', async () => {
    expect(await cli('status', 'ord_nothing_here')).toMatchObject({
      code: 1,
      err: 'refund-saga: no refund for that order',
    });
  });
});
