/**
 * Recorded workflow histories for replay tests. `RECORD_HISTORIES=1 npx vitest run test/workflows/refund-saga.test.ts`
 * re-records them from the saga's scenarios; commit the result with the reason for re-recording.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = join(__dirname, '..', 'fixtures', 'histories');

/** Saves the handle's history as `<name>.json` when recording is on; otherwise does nothing. */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}

/** The recorded histories, by file name. */
export function recordedHistories(): Array<{ name: string; json: unknown }> {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      name: f.replace(/\.json$/, ''),
      json: JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8')) as unknown,
    }));
}
