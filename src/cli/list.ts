/** `refund-saga list`: refunds from Temporal visibility, a page at a time or all of them (`--all`). */
import type { Client } from '@temporalio/client';
import {
  CARBON_PROVIDER_FILTERS,
  listRefunds,
  STEP_FILTERS,
  type ListRefundsOptions,
  type RefundListEntry,
} from '../client';
import { ERROR_TYPES, SAGA_STATUSES } from '../domain';
import { pad, UsageError, type Output } from './output';

/** The `list` command's flags, as parsed. */
export interface ListFlags {
  status?: string;
  step?: string;
  'carbon-provider'?: string;
  'error-type'?: string;
  'page-size'?: string;
  'page-token'?: string;
  all?: boolean;
  json?: boolean;
}

/** One of `allowed`, or a {@link UsageError} naming the flag. */
function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}`);
  }
  return value as T | undefined;
}

/** Checks the flags before anything connects; throws {@link UsageError}. */
export function listOptions(flags: ListFlags): ListRefundsOptions {
  const pageSize = flags['page-size'] === undefined ? 100 : Number(flags['page-size']);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new UsageError('--page-size must be 1-100');
  return {
    status: oneOf('--status', flags.status, SAGA_STATUSES),
    step: oneOf('--step', flags.step, STEP_FILTERS),
    carbonProvider: oneOf('--carbon-provider', flags['carbon-provider'], CARBON_PROVIDER_FILTERS),
    errorType: oneOf('--error-type', flags['error-type'], ERROR_TYPES),
    pageSize,
    pageToken: flags['page-token'],
  };
}

/** Prints one page (or, with `--all`, every page) and the command that gets the next one. */
export async function runList(client: Client, flags: ListFlags, options: ListRefundsOptions, io: Output) {
  const refunds: RefundListEntry[] = [];
  let nextPageToken = options.pageToken;
  do {
    const page = await listRefunds(client, { ...options, pageToken: nextPageToken });
    refunds.push(...page.refunds);
    nextPageToken = page.nextPageToken;
  } while (flags.all && nextPageToken);

  if (flags.json) {
    io.out(JSON.stringify({ refunds, ...(nextPageToken && { nextPageToken }) }, null, 2));
    return;
  }
  if (!refunds.length) {
    io.out(`no refunds${flags.status ? ` with status ${flags.status}` : ''}`);
    return;
  }
  io.out(
    [
      `  ${pad('order', 24)} ${pad('status', 20)} ${pad('step', 8)} ${pad('started', 24)} why (blocked step's error, deadline)`,
      ...refunds.map((r) => {
        const why = [r.error && `${r.error.type}: ${r.error.message}`, r.deadline && `(deadline ${r.deadline})`];
        return `  ${pad(r.orderId, 24)} ${pad(r.status ?? '?', 20)} ${pad(r.step ?? '', 8)} ${pad(r.startedAt ?? '', 24)} ${why.filter(Boolean).join(' ')}`.trimEnd();
      }),
    ].join('\n'),
  );
  if (nextPageToken) {
    const same = (['status', 'step', 'carbon-provider', 'error-type', 'page-size'] as const)
      .filter((flag) => flags[flag] !== undefined)
      .map((flag) => `--${flag} ${flags[flag]}`);
    io.out(`\nnext page: refund-saga list ${[...same, `--page-token ${nextPageToken}`].join(' ')}  (or --all)`);
  }
}
