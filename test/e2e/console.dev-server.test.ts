/**
 * The operator console in a real browser: an operator signs in with their own credential, finds a refund stopped by a
 * recon mismatch, confirms it from its page and sees it complete (the queue drops it by itself); after a Stripe outage
 * they retry three refunds in one bulk action; finance downloads the CSV of the completed refunds, whose totals are
 * the page's and the sagas' own.
 *
 * Headless Debian Chromium (installed with apt when missing, scripts/ensure-chromium.ts) driven by playwright-core,
 * against the API on a real socket (vouching for its overrides to the worker, which applies no other), a dev server of this file's own (so the finance range holds only this file's
 * refunds), a saga worker in process and the provider sandboxes. `UPDATE_SCREENSHOTS=1` saves each page into
 * docs/screenshots/console-*.png.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import Big from 'big.js';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium';
import { buildApi } from '../../src/api/server';
import { startRefund } from '../../src/client';
import { FINANCE_CSV_COLUMNS } from '../../src/console/finance';
import { REFUND_SEARCH_ATTRIBUTES, type RefundResult } from '../../src/domain';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { apiClientInterceptors, generateVouchKey } from '../../src/security/vouch';
import { ensureTemporalCli, toExecutable } from '../../src/stack/temporal-binaries';
import { sagaWorkerOptions } from '../../src/worker';
import type { refundSaga } from '../../src/workflows';
import { tokens } from '../support/api-auth';
import { waitForStatus } from '../support/saga';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';
import { FAST_POLLING, seedOrder } from '../support/stack';
import { uniqueTaskQueue, workflowBundle } from '../support/temporal';

const SCREENSHOTS = join(__dirname, '..', '..', 'docs', 'screenshots');
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const OPERATOR = { token: 'console-operator-token', identity: 'alice@example.com' };
const FINANCE = { token: 'console-finance-token', identity: 'finn@example.com' };
const VOUCH_KEY = generateVouchKey('console-test');

let chromiumPath = '';
let env: TestWorkflowEnvironment | undefined;
let sandboxes: RunningSandboxes | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let api: FastifyInstance | undefined;
let apiUrl = '';
let taskQueue = '';
let browser: Browser | undefined;
/** Every refund this file completed, by order id. */
const completed = new Map<string, RefundResult>();

beforeAll(async () => {
  chromiumPath = await ensureChromium((line) => console.log(`[chromium] ${line}`));
}, 600_000);

beforeAll(async () => {
  const cli = await ensureTemporalCli((line) => console.log(`[temporal] ${line}`));
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: toExecutable(cli),
      ip: '127.0.0.1',
      searchAttributes: REFUND_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 300 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 300 });
  taskQueue = uniqueTaskQueue('console');
  worker = await Worker.create(
    sagaWorkerOptions(
      sandboxClients(sandboxes, 1000),
      {
        taskQueue,
        connection: env.nativeConnection,
        workflowBundle: workflowBundle(),
      },
      // As in production: the worker applies only the overrides the API vouched for.
      { vouchKeys: [VOUCH_KEY] },
    ),
  );
  running = worker.run();
  api = buildApi({
    client: new Client({
      connection: env.connection,
      namespace: 'default',
      interceptors: apiClientInterceptors([VOUCH_KEY], 'default'),
    }),
    authenticator: tokens({
      [OPERATOR.token]: { identity: OPERATOR.identity, role: 'operator' },
      [FINANCE.token]: { identity: FINANCE.identity, role: 'finance' },
    }),
    taskQueue,
    temporalUiUrl: 'http://temporal-ui.invalid',
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
  worker?.shutdown();
  await running;
  await sandboxes?.close();
  await env?.teardown();
});

/** A fresh browser (its own cookies) signed in with `credential`, on the page it was sent to. */
async function signedIn(credential: { token: string; identity: string }, path = '/console'): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1440, height: 1000 }, timezoneId: 'UTC' });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  // Without a session the console sends the browser to sign in, and back to where it was going.
  await page.goto(`${apiUrl}${path}`);
  await expect.poll(() => new URL(page.url()).pathname).toBe('/console/sign-in');
  await screenshot(page, '1-sign-in');
  await page.getByLabel('Credential').fill(credential.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname + url.search === path);
  await expect.poll(() => page.getByTestId('identity').innerText()).toBe(credential.identity);
  return page;
}

/** Saves the page as docs/screenshots/console-<name>.png, only when asked to. */
async function screenshot(page: Page, name: string): Promise<void> {
  if (!UPDATE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`), fullPage: true });
}

/** Runs `body` on `page`; a failure names the page and keeps a screenshot of it. */
async function onPage<T>(page: Page, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const path = join(tmpdir(), `console-failure-${Date.now()}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => undefined);
    if (err instanceof Error) err.message += `\n(page ${page.url()}; screenshot: ${path})`;
    throw err;
  }
}

const row = (page: Page, orderId: string): Locator => page.locator(`tr[data-order="${orderId}"]`);

async function completes(orderId: string): Promise<RefundResult> {
  const result = await env!.client.workflow.getHandle<typeof refundSaga>(`refund-${orderId}`).result();
  completed.set(orderId, result);
  return result;
}

describe('the operator console (headless Chromium)', () => {
  it('signs an operator in, shows a recon mismatch in the queue, confirms it from its page, and the refund completes', async () => {
    const request = seedOrder(sandboxes!, { reversal: 'mismatch' });
    await startRefund(env!.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = env!.client.workflow.getHandle<typeof refundSaga>(`refund-${request.orderId}`);
    await waitForStatus(
      handle,
      (s) => s.status === 'needs_attention' && s.steps.recon.lastError?.type === 'ReconMismatch',
      30_000,
    );

    const page = await signedIn(OPERATOR);
    await onPage(page, async () => {
      // The queue, filtered to recon mismatches: the refund, why, since when.
      await page.getByLabel('Error type').selectOption('ReconMismatch');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/errorType=ReconMismatch/);
      const queued = row(page, request.orderId);
      await expect.poll(() => queued.innerText()).toMatch(/recon\s+ReconMismatch reversal .* does not match/);
      await screenshot(page, '2-queue');
    });

    // A second tab keeps the queue open: it must drop the refund by itself once it is resolved.
    const queue = await page.context().newPage();
    await queue.goto(`${apiUrl}/console?errorType=ReconMismatch`);
    await expect.poll(() => row(queue, request.orderId).count()).toBe(1);

    await onPage(page, async () => {
      await row(page, request.orderId).getByRole('link', { name: request.orderId }).click();
      await page.waitForURL(`**/console/refunds/${request.orderId}`);
      expect(await page.getByTestId('block-message').innerText()).toMatch(/does not match: total: expected/);
      expect(await page.getByTestId('status').innerText()).toBe('needs attention');
      // Only the override that fits a mismatch is offered, besides the abort kept apart.
      const forms = page.locator('form.override');
      const actions = await Promise.all((await forms.all()).map((form) => form.getAttribute('data-action')));
      expect(actions).toEqual(['confirmRecon', 'abort']);
      expect(await page.getByRole('link', { name: /Open this run in the Temporal UI/ }).getAttribute('href')).toBe(
        `http://temporal-ui.invalid/namespaces/default/workflows/refund-${request.orderId}`,
      );
      await screenshot(page, '3-refund-stuck');

      const confirm = page.locator('form.override[data-action="confirmRecon"]');
      await confirm.getByLabel('Reason').fill('checked the feed with finance');
      await confirm.getByLabel(/Evidence/).fill('FIN-2041: reversal short by a 1.00 fee');
      await confirm.getByRole('button', { name: 'Confirm the reversal by hand' }).click();
      await page.waitForURL(/done=confirmRecon/);
      await expect
        .poll(() => page.getByRole('status').innerText())
        .toContain('Your confirmRecon was accepted and recorded under your name');
      // The page follows the saga until it ends.
      await expect.poll(() => page.getByTestId('status').innerText(), { timeout: 30_000 }).toBe('completed');
      const override = page.locator('table.overrides tbody tr');
      expect(await override.innerText()).toMatch(
        /alice@example\.com\s+confirmRecon\s+recon\s+checked the feed with finance/,
      );
      expect(await page.locator('tr[data-provider="recon"]').innerText()).toContain(
        'evidence: FIN-2041: reversal short by a 1.00 fee',
      );
      await screenshot(page, '4-refund-completed');
    });

    const result = await completes(request.orderId);
    expect(result).toMatchObject({
      outcome: 'completed',
      recon: { outcome: 'confirmed_by_operator', evidence: 'FIN-2041: reversal short by a 1.00 fee' },
      overrides: [{ action: 'confirmRecon', operator: OPERATOR.identity, reason: 'checked the feed with finance' }],
    });
    // The open queue refreshed itself without the refund (every 10 s).
    await expect.poll(() => row(queue, request.orderId).count(), { timeout: 30_000 }).toBe(0);
    await page.context().close();
  });

  it('retries three refunds stopped by a Stripe outage in one bulk action, with a report per refund', async () => {
    const { stripeClimate } = sandboxes!;
    stripeClimate.addFault({ route: 'cancelOrder', errorRate: 1, status: 500 });
    const requests = Array.from({ length: 3 }, () => seedOrder(sandboxes!));
    const sagaOptions = { ...FAST_POLLING, outageEscalationMs: 3000 };
    await Promise.all(requests.map((r) => startRefund(env!.client, r, { taskQueue, sagaOptions })));
    for (const r of requests) {
      await waitForStatus(
        env!.client.workflow.getHandle(`refund-${r.orderId}`),
        (s) => s.status === 'needs_attention' && s.steps.carbon.lastError?.type === 'ProviderOutage',
        60_000,
      );
    }
    await fetch(`${sandboxes!.urls.stripeClimate}/_sandbox/faults`, { method: 'DELETE' });

    const page = await signedIn(OPERATOR, '/console?step=carbon&errorType=ProviderOutage');
    await onPage(page, async () => {
      for (const r of requests) await row(page, r.orderId).getByRole('checkbox').check();
      const bulk = page.getByRole('group', { name: 'Apply to the selected refunds' });
      await bulk.locator('select[name="action"]').selectOption('retryStep');
      await bulk.locator('select[name="step"]').selectOption('carbon');
      await bulk.getByLabel(/^Reason/).fill('Stripe is answering again');
      expect(await page.locator('#apply-bulk').innerText()).toBe('Apply to 3 selected');
      await screenshot(page, '5-bulk-selected');
      await page.locator('#apply-bulk').click();
      await page.waitForURL('**/console/bulk');
      expect(await page.getByTestId('counts').innerText()).toMatch(/^3 accepted, 0 refused, 0 failed\./);
      for (const r of requests) expect(await row(page, r.orderId).innerText()).toMatch(/accepted/);
      await screenshot(page, '6-bulk-report');
    });
    for (const r of requests) {
      const result = await completes(r.orderId);
      expect(result.carbon.outcome).toBe('reversed');
      expect(result.overrides).toEqual([
        expect.objectContaining({ action: 'retryStep', step: 'carbon', operator: OPERATOR.identity }),
      ]);
    }
    await page.context().close();
  });

  it("shows finance the completed refunds with totals, and the CSV's totals are the page's and the sagas'", async () => {
    expect(completed.size, 'the refunds the tests above completed').toBe(4);
    const page = await signedIn(FINANCE, '/console/finance');
    await onPage(page, async () => {
      expect(await page.locator('h2').first().innerText()).toBe(`Totals: ${completed.size} refunds`);
      await screenshot(page, '7-finance');
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Download CSV' }).click();
      const file = await (await download).path();
      const csv = readFileSync(file, 'utf8');
      const header = csv.split('\r\n', 1)[0]?.split(',');
      expect(header).toEqual([...FINANCE_CSV_COLUMNS]);
      const rows = parse<Record<string, string>>(csv, { columns: true });
      expect(rows.map((r) => r.order_id).sort()).toEqual([...completed.keys()].sort());

      const sum = (values: Array<string | undefined>) =>
        values.reduce((total, v) => (v ? total.plus(v) : total), new Big(0)).toFixed(2);
      const results = [...completed.values()];
      const fromCsv = {
        payment: sum(rows.map((r) => r.payment_reversed)),
        refunded: sum(rows.map((r) => r.carbon_refunded)),
        fees: sum(rows.map((r) => r.carbon_fees_kept)),
      };
      // The sagas' own results, read through the client: what the providers reported.
      expect(fromCsv).toEqual({
        payment: sum(results.map((r) => r.payment.amount?.value)),
        refunded: sum(results.map((r) => r.carbon.refunded?.value)),
        fees: sum(results.map((r) => r.carbon.feesNotRefunded?.value)),
      });
      expect(Number(fromCsv.payment)).toBeGreaterThan(0);
      expect(Number(fromCsv.fees)).toBeGreaterThan(0);
      // All in USD here, so each total is one figure on the page.
      expect(await page.locator('[data-total="payment"]').innerText()).toBe(`${fromCsv.payment} USD`);
      expect(await page.locator('[data-total="carbon-refunded"]').innerText()).toBe(`${fromCsv.refunded} USD`);
      expect(await page.locator('[data-total="carbon-fees"]').innerText()).toBe(`${fromCsv.fees} USD`);
      const evidence = rows.find((r) => r.recon_outcome === 'confirmed_by_operator');
      expect(evidence?.recon_evidence).toBe('FIN-2041: reversal short by a 1.00 fee');
      expect(evidence?.overrides).toMatch(/^confirmRecon recon by alice@example\.com at .*: checked the feed/);
    });
    await page.context().close();
  });
});
