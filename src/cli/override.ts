/**
 * `refund-saga override <orderId> <action> …`: one operator override, sent as an update; with `--where` or `--orders`
 * instead of the order id, the same override to many sagas (override-batch.ts). With REFUND_SAGA_API_URL and the
 * operator's REFUND_SAGA_TOKEN it goes through the HTTP API, which records the token's identity as the operator and
 * vouches for it to the worker; otherwise straight to Temporal, with `--operator`.
 */
import { Option, type Command } from 'commander';
import type { ZodType } from 'zod';
import { OverrideIdSchema, parseOverride, sendOverride } from '../client';
import { cliApiConfig } from '../config';
import { OVERRIDE_ACTIONS, OVERRIDE_INPUTS, STEPS, type OverrideAction } from '../domain';
import { addOutputOption, addTemporalOptions, temporalArgs } from './global-options';
import { orderIdArg, pad, UsageError } from './output';
import { batchOptions, batchTarget, runOverrideBatch, type BatchFlags } from './override-batch';
import { operatorAction, type OperatorContext } from './session';
import { renderStatus } from './status';
import { overrideViaApi, type ApiTarget } from './via-api';

/** The `override` command's options, as parsed. */
type OverrideFlags = BatchFlags & {
  step?: string;
  operator?: string;
  reason?: string;
  evidence?: string;
  duration?: string;
};

const BULK_OPTIONS = 'Bulk: instead of <orderId>, one of --where and --orders (a dry run unless --apply):';

/** What each action does, for the help; the options each takes come from its input schema. */
const ACTION_SUMMARIES: Record<OverrideAction, string> = {
  retryStep: 'run a blocked step again now',
  skipStep: 'the step was resolved outside the saga',
  confirmRecon: 'accept recon without a matching record',
  extendDeadline: 'more time for payment or recon, which wait',
  abort: 'stop the saga',
};

/** The actions as help lines: what each does and the options it takes (`[--evidence]` when optional). */
function actionsHelp(): string {
  const lines = OVERRIDE_ACTIONS.map((action) => {
    const fields = Object.entries<ZodType>(OVERRIDE_INPUTS[action].shape).map(([name, schema]) =>
      schema.safeParse(undefined).success ? `[--${name}]` : `--${name}`,
    );
    return `  ${pad(action, 16)}${ACTION_SUMMARIES[action]}: ${fields.join(' ')}`;
  });
  return ['', 'Actions:', ...lines].join('\n');
}

const EXAMPLES = `

Examples:
  refund-saga override ord_123 skipStep --step carbon --operator you@example.com --reason "refunded by hand"
  refund-saga override ord_123 extendDeadline --step recon --duration 2d --operator you --reason "feed late" --id T-4711
  refund-saga override --where "RefundStatus = 'needs_attention' AND RefundStep = 'carbon'" \\
    retryStep --step carbon --operator you@example.com --reason "Stripe outage over"    # lists them; --apply sends`;

/**
 * The override's input from the flags, checked; throws `InvalidRequestError` naming every bad field. Through the API
 * `--operator` may be left out: the API sets it to the caller's identity.
 */
function overrideInput(action: string, flags: OverrideFlags, api: ApiTarget | undefined) {
  const input = {
    action,
    ...(flags.step && { step: flags.step }),
    ...(flags.operator !== undefined && { operator: flags.operator }),
    ...(flags.reason !== undefined && { reason: flags.reason }),
    ...(flags.evidence && { evidence: flags.evidence }),
    // Digits alone are milliseconds, as in the API's body.
    ...(flags.duration && { duration: /^\d+$/.test(flags.duration) ? Number(flags.duration) : flags.duration }),
  };
  parseOverride(api && flags.operator === undefined ? { ...input, operator: 'the API caller' } : input);
  return input;
}

/** The order id and action of either form, checked before anything connects; throws {@link UsageError}. */
function targetArgs(batch: boolean, first: string | undefined, second: string | undefined) {
  const missingAction = `missing required argument 'action' (one of ${OVERRIDE_ACTIONS.join(', ')})`;
  if (batch) {
    if (second !== undefined) throw new UsageError('with --where or --orders, give the action alone, not <orderId>');
    if (!first) throw new UsageError(missingAction);
    return { action: first };
  }
  if (!first) throw new UsageError("missing required argument 'orderId'");
  const orderId = orderIdArg(first);
  if (!second) throw new UsageError(missingAction);
  return { orderId, action: second };
}

/** Registers `override` on `program`. */
export function addOverrideCommand(program: Command, context: OperatorContext): void {
  const command = program
    .command('override')
    .description('send an operator override to a saga (an update: accepted, or rejected with its reason)')
    // The bulk form on a line of its own, aligned under the first.
    .usage(
      '<orderId> <action> [options]\n       refund-saga override (--where <query> | --orders <ids>) <action> [options]',
    )
    .argument('[orderId]', 'the order whose saga to override')
    .argument('[action]', `one of ${OVERRIDE_ACTIONS.join(', ')}`)
    .option('--operator <who>', 'who is acting (required, unless REFUND_SAGA_API_URL sends it as your identity)')
    .option('--reason <why>', 'why (required)')
    .option('--step <step>', `the step it acts on: ${STEPS.join(', ')}`)
    .option('--evidence <text>', 'what shows it was done, e.g. a ticket (confirmRecon needs it)')
    .option('--duration <30m|6h|2d>', 'how much longer extendDeadline waits, up to 90 days')
    .option('--id <update id>', 'makes it idempotent: sent again with the same id, it is applied once')
    .addOption(new Option('--where <query>', 'running sagas matching a visibility query').helpGroup(BULK_OPTIONS))
    .addOption(new Option('--orders <id,id,…>', 'the sagas of these orders').helpGroup(BULK_OPTIONS))
    .addOption(new Option('--apply', 'send it; without, only list the sagas it would go to').helpGroup(BULK_OPTIONS))
    .addOption(
      new Option('--concurrency <1-32>', 'overrides in flight at once (8 unless given)').helpGroup(BULK_OPTIONS),
    )
    .addHelpText('after', actionsHelp() + EXAMPLES);
  addTemporalOptions(addOutputOption(command)).action(
    operatorAction(context, async (session, flags: OverrideFlags, first?: string, second?: string) => {
      const batch = flags.where !== undefined || flags.orders !== undefined;
      if (batch) batchTarget(flags);
      const { orderId, action } = targetArgs(batch, first, second);
      const id = flags.id === undefined ? undefined : OverrideIdSchema.safeParse(flags.id);
      if (id && !id.success) throw new UsageError(`--id ${id.error.issues[0]!.message}`);
      const api = cliApiConfig();
      const input = overrideInput(action, flags, api);
      if (!orderId) return runOverrideBatch(session, batchOptions(flags, input, api), api);
      const view = api
        ? await overrideViaApi(api, orderId, input, id?.data)
        : await sendOverride(await session.connect(), orderId, input, { id: id?.data });
      session.print(view, () => `accepted: ${action}\n\n${renderStatus(view, temporalArgs(session.flags))}`);
      return 0;
    }),
  );
}
