/** `refund-saga list`: refunds from Temporal visibility, a page at a time or all of them (`--all`). */
import type { Command } from 'commander';
import {
  CARBON_PROVIDER_FILTERS,
  listRefunds,
  STEP_FILTERS,
  type ListRefundsOptions,
  type RefundListEntry,
} from '../client';
import { ERROR_TYPES, SAGA_STATUSES } from '../domain';
import { addOutputOption, addTemporalOptions, shellWord, temporalArgs } from './global-options';
import { pad, UsageError } from './output';
import { operatorAction, type OperatorContext, type OperatorSession } from './session';

/** The `list` command's options, as parsed. */
export type ListFlags = {
  status?: string;
  step?: string;
  carbonProvider?: string;
  errorType?: string;
  pageSize?: string;
  pageToken?: string;
  all?: boolean;
};

/** The filters the "next page" command repeats, by the flag that sets them. */
const FILTER_FLAGS = {
  status: '--status',
  step: '--step',
  carbonProvider: '--carbon-provider',
  errorType: '--error-type',
  pageSize: '--page-size',
} as const;

/** One of `allowed`, or a {@link UsageError} naming the flag. */
function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}`);
  }
  return value as T | undefined;
}

/** Checks the flags before anything connects; throws {@link UsageError}. */
export function listOptions(flags: ListFlags): ListRefundsOptions {
  const pageSize = flags.pageSize === undefined ? 100 : Number(flags.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new UsageError('--page-size must be 1-100');
  return {
    status: oneOf('--status', flags.status, SAGA_STATUSES),
    step: oneOf('--step', flags.step, STEP_FILTERS),
    carbonProvider: oneOf('--carbon-provider', flags.carbonProvider, CARBON_PROVIDER_FILTERS),
    errorType: oneOf('--error-type', flags.errorType, ERROR_TYPES),
    pageSize,
    pageToken: flags.pageToken,
  };
}

/** The command that prints the page after this one, with the same filters, cluster and namespace. */
function nextPageCommand(session: OperatorSession, flags: ListFlags, nextPageToken: string): string {
  const filters = (Object.keys(FILTER_FLAGS) as Array<keyof typeof FILTER_FLAGS>)
    .filter((key) => flags[key] !== undefined)
    .map((key) => `${FILTER_FLAGS[key]} ${shellWord(flags[key]!)}`);
  const args = [...filters, `--page-token ${shellWord(nextPageToken)}`, ...temporalArgs(session.flags)];
  return `refund-saga list ${args.join(' ')}`;
}

/** Prints one page (or, with `--all`, every page) and the command that gets the next one. */
export async function runList(session: OperatorSession, flags: ListFlags, options: ListRefundsOptions) {
  const client = await session.connect();
  const refunds: RefundListEntry[] = [];
  let nextPageToken = options.pageToken;
  do {
    const page = await listRefunds(client, { ...options, pageToken: nextPageToken });
    refunds.push(...page.refunds);
    nextPageToken = page.nextPageToken;
  } while (flags.all && nextPageToken);

  const { io } = session;
  if (session.json) {
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
  if (nextPageToken) io.out(`\nnext page: ${nextPageCommand(session, flags, nextPageToken)}  (or --all)`);
}

/** Registers `list` on `program`. */
export function addListCommand(program: Command, context: OperatorContext): void {
  const command = program
    .command('list')
    .description("refunds from Temporal visibility, with each blocked step's error and deadline, a page at a time")
    .option('--status <status>', `only sagas in this status: ${SAGA_STATUSES.join(', ')}`)
    .option('--step <step>', `only sagas at this step: ${STEP_FILTERS.join(', ')}`)
    .option(
      '--carbon-provider <provider>',
      `only sagas with this carbon provider: ${CARBON_PROVIDER_FILTERS.join(', ')}`,
    )
    .option('--error-type <type>', `only sagas whose blocked step failed so: ${ERROR_TYPES.join(', ')}`)
    .option('--page-size <1-100>', 'refunds per page (100 unless given)')
    .option('--page-token <token>', 'the page a previous list named as the next one')
    .option('--all', 'follow the page tokens to the end');
  addTemporalOptions(addOutputOption(command)).action(
    operatorAction(context, async (session, flags: ListFlags) => {
      await runList(session, flags, listOptions(flags));
      return 0;
    }),
  );
}
