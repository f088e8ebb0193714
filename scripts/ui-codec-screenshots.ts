/**
 * `npx tsx scripts/ui-codec-screenshots.ts <workflowId>`, with `npm start` running (and `npm run demo` run once): the
 * run's page in the stack's Temporal UI, in headless Chromium, signed out (the payloads encrypted, the codec server
 * refusing) and then signed in as the dev operator (decoded), into docs/screenshots/ui-codec-{1-signed-out,2-signed-in}.png.
 * Prints the codec server's answers to each, and exits 1 when the two pages do not show what their names say.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { apiConfig, stackConfig } from '../src/config';
import { CHROMIUM_ARGS, ensureChromium } from './ensure-chromium';

const workflowId = process.argv[2] ?? '';
if (!workflowId) {
  console.error('usage: npx tsx scripts/ui-codec-screenshots.ts <workflowId>   (with npm start running)');
  process.exit(2);
}
const stack = stackConfig();
const api = `http://localhost:${apiConfig().port}`;
const shots = join(__dirname, '..', 'docs', 'screenshots');

/** Loads the run's page, waits for its payloads, screenshots it, and returns the codec's answers and the page text. */
async function capture(page: Page, name: string): Promise<{ answers: number[]; text: string }> {
  const answers: number[] = [];
  const record = (r: { url(): string; status(): number }) => {
    if (r.url().startsWith(`${api}/codec/`)) answers.push(r.status());
  };
  page.on('response', record);
  await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
  await page.getByRole('heading', { name: 'Input' }).waitFor();
  await page.waitForTimeout(3000);
  await page.screenshot({ path: join(shots, `ui-codec-${name}.png`) });
  page.off('response', record);
  return { answers, text: await page.locator('body').innerText() };
}

/** `401 × 61`: how often the codec server gave each status. */
const tally = (statuses: number[]) =>
  [...new Set(statuses)].map((s) => `${s} × ${statuses.filter((t) => t === s).length}`).join(', ') || 'none';

async function main() {
  const executablePath = await ensureChromium((line) => console.log(`[chromium] ${line}`));
  const browser = await chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1100 }, timezoneId: 'UTC' });
    const page = await context.newPage();
    const out = await capture(page, '1-signed-out');
    console.log(`signed out: codec answers ${tally(out.answers)}`);

    // Signed in: the session cookie of the API's host, and the UI's browser codec settings with credentials.
    const token = readFileSync(join(stack.stateDir, 'api-token'), 'utf8').trim();
    const session = await context.request.post(`${api}/v1/session`, { headers: { authorization: `Bearer ${token}` } });
    if (!session.ok()) throw new Error(`sign-in failed: ${session.status()} ${await session.text()}`);
    // A script string: the page's own localStorage (the UI keeps these settings there, as JSON).
    await page.evaluate(
      `localStorage.setItem('overrideRemoteCodecConfiguration', 'true');` +
        `localStorage.setItem('endpoint', ${JSON.stringify(JSON.stringify(`${api}/codec`))});` +
        `localStorage.setItem('includeCredentials', 'true');`,
    );
    const inside = await capture(page, '2-signed-in');
    console.log(`signed in: codec answers ${tally(inside.answers)}`);

    const decoded = (text: string) => text.includes(`"orderId": "${workflowId.replace(/^refund-/, '')}"`);
    if (decoded(out.text) || !out.text.includes('encryption-key-id'))
      throw new Error('signed out, the page is decoded');
    if (!decoded(inside.text)) throw new Error('signed in, the page is not decoded');
    console.log(`written: ${join(shots, 'ui-codec-1-signed-out.png')}, ${join(shots, 'ui-codec-2-signed-in.png')}`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
