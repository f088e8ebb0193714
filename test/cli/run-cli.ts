/** Runs the operator CLI in process with a `connect` that records the settings it gets and never reaches a server. */
import type { Client } from '@temporalio/client';
import { vi } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { TemporalSettings } from '../../src/config';

/** What a run printed and returned, and the settings each connection was asked for. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
  connections: TemporalSettings[];
}

/** The message the recording `connect` fails with, so a command stops where it would first talk to Temporal. */
export const NO_SERVER = 'no Temporal in this test';

export async function cliWithoutServer(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const connect = vi.fn((_settings: TemporalSettings): Promise<Client> => Promise.reject(new Error(NO_SERVER)));
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, connect);
  return { code, out: out.join('\n'), err: err.join('\n'), connections: connect.mock.calls.map(([s]) => s) };
}
