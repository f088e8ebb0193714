/**
 * Recorded workflow histories for replay tests. They are append-only: sagas wait for days, so a history recorded by
 * an earlier version stands for sagas in flight, and must replay unchanged. `SHA256SUMS` beside them lists every
 * committed history with its hash; the replay test fails when one changes or disappears.
 *
 * `RECORD_HISTORIES=1 npx vitest run test/workflows` records the scenarios whose history file does not exist yet and
 * adds them to `SHA256SUMS`; it never overwrites a recorded history.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = join(__dirname, '..', 'fixtures', 'histories');
export const MANIFEST = join(HISTORIES_DIR, 'SHA256SUMS');

export const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Saves the handle's history as `<name>.json` when recording is on and no such history exists yet. */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const file = `${name}.json`;
  const path = join(HISTORIES_DIR, file);
  if (existsSync(path)) return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(path, historyToJSON(await handle.fetchHistory()));
  appendFileSync(MANIFEST, `${sha256File(path)}  ${file}\n`);
}

/** The manifest's entries: file name → SHA-256. */
export function manifest(): Map<string, string> {
  const lines = readFileSync(MANIFEST, 'utf8').split('\n').filter(Boolean);
  return new Map(
    lines.map((line) => {
      const [hash, file] = line.split(/\s+/) as [string, string];
      return [file, hash];
    }),
  );
}

/** The recorded histories, by file name, with the workflow id they ran under (`refund-<orderId>` of their input). */
export function recordedHistories(): Array<{ name: string; workflowId: string; json: unknown }> {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const json = JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8')) as HistoryJson;
      return { name: f.replace(/\.json$/, ''), workflowId: workflowIdOf(json), json };
    });
}

interface HistoryJson {
  events: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data?: string }> } } }>;
}

function workflowIdOf(history: HistoryJson): string {
  const data = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const input = JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8')) as { request: { orderId: string } };
  return `refund-${input.request.orderId}`;
}
