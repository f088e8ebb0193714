/**
 * The Temporal UI's "Request Cancellation", pressed in a real browser: a saga blocked on its carbon step ends
 * Completed (not Canceled) with outcome `aborted` and the steps left for manual handling, as the rendered page shows.
 *
 * Headless Debian Chromium (installed with apt when missing, see scripts/ensure-chromium.ts) driven by playwright-core,
 * against a dev server of this file's own with its Web UI on (the run's shared server is headless), a saga worker in
 * process and the provider sandboxes. `UPDATE_SCREENSHOTS=1` saves the page before the click, the confirm dialog, the
 * page after and the whole result into docs/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/chaos/processes';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium';
import { startRefund } from '../../src/client';
import { REFUND_SEARCH_ATTRIBUTES } from '../../src/domain';
import type { RunningSandboxes } from '../../src/stack/sandboxes';
import { ensureTemporalCli, toExecutable } from '../../src/stack/temporal-binaries';
import { sagaWorkerOptions } from '../../src/worker';
import type { refundSaga } from '../../src/workflows';
import { waitForStatus } from '../support/saga';
import { sandboxClients, startTestSandboxes } from '../support/sandboxes';
import { FAST_POLLING, seedOrder } from '../support/stack';
import { uniqueTaskQueue, workflowBundle } from '../support/temporal';

const SCREENSHOTS = join(__dirname, '..', '..', 'docs', 'screenshots');
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';

let chromiumPath = '';
let env: TestWorkflowEnvironment | undefined;
let uiUrl = '';
let sandboxes: RunningSandboxes | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let taskQueue = '';
let browser: BrowserContext | undefined;
let profileDir = '';

// A fresh machine has no Chromium: apt installs it in about a minute (longer on a slow mirror).
beforeAll(async () => {
  chromiumPath = await ensureChromium((line) => console.log(`[chromium] ${line}`));
}, 600_000);

beforeAll(async () => {
  const cli = await ensureTemporalCli((line) => console.log(`[temporal] ${line}`));
  const uiPort = await freePort();
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: toExecutable(cli),
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      searchAttributes: REFUND_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
  uiUrl = `http://127.0.0.1:${uiPort}`;
  sandboxes = await startTestSandboxes();
  sandboxes.circle.configure({ settleDelayMs: 300 });
  sandboxes.impactRecon.configure({ reversalDelayMs: 300 });
  taskQueue = uniqueTaskQueue('ui-cancel');
  worker = await Worker.create(
    sagaWorkerOptions(sandboxClients(sandboxes, 1000), {
      taskQueue,
      connection: env.nativeConnection,
      workflowBundle: workflowBundle(),
    }),
  );
  running = worker.run();
  profileDir = mkdtempSync(join(tmpdir(), 'refund-saga-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
    timezoneId: 'UTC',
  });
  browser.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  worker?.shutdown();
  await running;
  await sandboxes?.close();
  await env?.teardown();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

/** Saves the page as docs/screenshots/ui-request-cancellation-<name>.png, only when asked to. */
async function screenshot(page: Page, name: string): Promise<void> {
  if (!UPDATE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `ui-request-cancellation-${name}.png`) });
}

/** Waits for `locator` to be visible, failing with what was awaited and where the page stood. */
async function visible(locator: Locator, what: string, timeout = 20_000): Promise<Locator> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch (err) {
    throw new Error(`the Temporal UI did not show ${what} within ${timeout / 1000} s: ${String(err)}`);
  }
  return locator.first();
}

/** The browser's `getComputedStyle`, typed here because the project's TypeScript has no DOM library. */
interface Styled {
  getComputedStyle(element: unknown): { opacity: string };
}

/** The workflow's status badge in the page header (Running, Completed, Canceled, …). */
const statusBadge = (page: Page, status: string) =>
  page
    .locator('header span')
    .filter({ hasText: new RegExp(`^\\s*${status}\\s*$`) })
    .filter({ visible: true });

describe('the Temporal UI (headless Chromium)', () => {
  it('ends a blocked saga aborted, steps left listed, when the operator presses Request Cancellation', async () => {
    const request = seedOrder(sandboxes!, { stripeAgeSeconds: 25 * 3600 });
    const { workflowId } = await startRefund(env!.client, request, { taskQueue, sagaOptions: FAST_POLLING });
    const handle = env!.client.workflow.getHandle<typeof refundSaga>(workflowId);
    // Blocked on the carbon order (Stripe Climate's 24 h window has closed), once Circle has settled the cancel.
    await waitForStatus(
      handle,
      (s) =>
        s.status === 'needs_attention' && s.steps.payment.state === 'succeeded' && s.steps.carbon.state === 'blocked',
    );

    const page = browser!.pages()[0] ?? (await browser!.newPage());
    const url = `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
    try {
      // The UI streams its content: wait for what is needed, not for load events.
      await page.goto(url, { waitUntil: 'commit' });
      await visible(page.getByRole('heading', { name: workflowId }), `the workflow ${workflowId}`);
      await visible(statusBadge(page, 'Running'), 'the Running badge');
      const cancelButton = await visible(
        page.getByRole('button', { name: 'Request Cancellation', exact: true }).filter({ visible: true }),
        'the Request Cancellation button',
      );
      // The saga's current details (User Metadata tab, markdown the UI renders in a frame) say why it waits: the
      // carbon step is blocked.
      await page.getByTestId('user-metadata-tab').filter({ visible: true }).first().click();
      const currentDetails = page
        .locator('div')
        .filter({ has: page.getByRole('heading', { name: 'Current Details', exact: true }) })
        .filter({ has: page.locator('iframe') })
        .last()
        .locator('iframe')
        .first()
        .contentFrame();
      await visible(
        currentDetails.getByText(`Refund ${request.orderId} — needs_attention`),
        'the saga as needing attention',
      );
      await visible(
        currentDetails.getByText(`WindowClosed: Climate order ${request.carbon.orderId} was created 25 h ago`),
        'the carbon step blocked by WindowClosed',
      );
      await screenshot(page, '1-blocked');

      await cancelButton.click();
      const dialog = await visible(
        page.getByTestId('cancel-confirmation-modal').filter({ visible: true }),
        'the Cancel Workflow dialog',
      );
      expect(await dialog.innerText()).toContain('Are you sure you want to cancel this workflow?');
      // Let the dialog's opening transition end, so the picture shows it whole.
      await expect
        .poll(() => dialog.evaluate((el) => (globalThis as unknown as Styled).getComputedStyle(el).opacity), {
          timeout: 5_000,
        })
        .toBe('1');
      await screenshot(page, '2-confirm');
      await dialog.getByRole('button', { name: 'Confirm', exact: true }).click();

      // The page refreshes itself: Completed, never Canceled, with the saga's result on the History tab.
      await page.getByTestId('history-tab').filter({ visible: true }).first().click();
      await visible(statusBadge(page, 'Completed'), 'the Completed badge (the saga should end through its abort path)');
      expect(await statusBadge(page, 'Canceled').count()).toBe(0);
      const resultPanel = page
        .getByRole('heading', { name: 'Result', exact: true })
        .filter({ visible: true })
        .first()
        .locator('xpath=..');
      const resultText = resultPanel.locator('.cm-content');
      await visible(resultText, 'the Result panel');
      const shown = await resultText.innerText();
      expect(shown, 'the rendered result').toContain('"outcome": "aborted"');
      expect(shown).toMatch(/"leftForManualHandling": \[\s*"carbon",\s*"impact",\s*"recon"\s*\]/);
      expect(shown).toContain('"operator": "temporal"');
      const rendered = JSON.parse(shown) as unknown;
      expect(rendered, 'the rendered result, read as JSON').toMatchObject({
        orderId: request.orderId,
        outcome: 'aborted',
        payment: { outcome: 'reversed' },
        carbon: { outcome: 'left_for_manual_handling' },
        impact: { outcome: 'left_for_manual_handling' },
        recon: { outcome: 'left_for_manual_handling' },
        leftForManualHandling: ['carbon', 'impact', 'recon'],
        overrides: [{ action: 'abort', operator: 'temporal' }],
      });

      // The same through the client: what the page showed is what the saga returned.
      const result = await handle.result();
      expect(rendered).toEqual(JSON.parse(JSON.stringify(result)));
      expect((await handle.describe()).status.name).toBe('COMPLETED');

      if (UPDATE_SCREENSHOTS) {
        // Scroll the result to the steps left.
        await resultText.getByText('"leftForManualHandling"').scrollIntoViewIfNeeded();
        await screenshot(page, '3-aborted');
        // The whole result: the panel's second button (after copy, no label) opens it full page.
        await resultPanel.locator('button').nth(1).click();
        await visible(page.getByText('"completedAt"'), 'the expanded result', 5_000);
        await screenshot(page, '4-result');
      }
    } catch (err) {
      const path = join(tmpdir(), `ui-cancellation-failure-${Date.now()}.png`);
      await page.screenshot({ path }).catch(() => undefined);
      if (err instanceof Error) err.message += `\n(page ${url}; screenshot of the page: ${path})`;
      throw err;
    }
  });
});
