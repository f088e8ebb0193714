/** `refund-saga override --where '<query>' | --orders a,b,c <action> …`: one override to many sagas. */
import { parseOverrideBatch, sendOverrides, type OverrideOutcome, type OverrideTarget } from '../client';
import { UsageError } from './output';
import type { OperatorSession } from './session';
import { overridesViaApi, type ApiTarget } from './via-api';

/** The batch flags, as parsed. */
export interface BatchFlags {
  where?: string;
  orders?: string;
  apply?: boolean;
  concurrency?: string;
  id?: string;
}

/** The sagas the flags name; throws `UsageError` unless exactly one of `--where` and `--orders` is given. */
export function batchTarget(flags: BatchFlags): OverrideTarget {
  if ((flags.where === undefined) === (flags.orders === undefined)) {
    throw new UsageError('give exactly one of --where and --orders');
  }
  if (flags.where !== undefined) return { where: flags.where };
  return {
    orderIds: flags
      .orders!.split(',')
      .map((id) => id.trim())
      .filter(Boolean),
  };
}

/**
 * The batch's target and settings, checked before anything connects; throws `UsageError` or `InvalidRequestError`.
 * Through the API the override may leave `operator` out (the API sets the caller's identity).
 */
export function batchOptions(flags: BatchFlags, override: { operator?: string }, api?: ApiTarget) {
  const asSent = {
    ...batchTarget(flags),
    override,
    dryRun: !flags.apply,
    ...(flags.concurrency !== undefined && { concurrency: Number(flags.concurrency) }),
  };
  const batch = parseOverrideBatch(
    api && override.operator === undefined
      ? { ...asSent, override: { ...override, operator: 'the API caller' } }
      : asSent,
  );
  return { ...batch, asSent, id: flags.id };
}

const line = (r: OverrideOutcome, done: number, total: number) =>
  `[${done}/${total}] ${r.orderId} ${r.outcome}${r.reason ? `: ${r.reason}` : ''}`;

/** Runs the batch, printing a line per saga as it answers and a summary; returns the exit code. */
export async function runOverrideBatch(
  session: OperatorSession,
  batch: ReturnType<typeof batchOptions>,
  api?: ApiTarget,
): Promise<number> {
  const { io, json } = session;
  // With -o json, standard output carries only the report: progress goes to standard error.
  const progress = (text: string) => (json ? io.err(text) : io.out(text));
  let report;
  if (api) {
    // The API answers once the batch is done: each saga's line comes then.
    report = await overridesViaApi(api, batch.asSent, batch.id);
    report.results?.forEach((r, i, all) => progress(line(r, i + 1, all.length)));
  } else {
    report = await sendOverrides(await session.connect(), batch.target, batch.override, {
      dryRun: batch.dryRun,
      concurrency: batch.concurrency,
      id: batch.id,
      onProgress: (r, done, total) => progress(line(r, done, total)),
    });
  }
  const action = batch.override.action;
  const capped = report.capped
    ? `only the first ${report.orderIds.length} matching sagas were taken; run again for the rest`
    : '';
  if (json) io.out(JSON.stringify(report, null, 2));
  else if (report.dryRun) {
    io.out(
      report.orderIds.length
        ? [
            `dry run: ${action} would be sent to ${report.orderIds.length} saga(s):`,
            ...report.orderIds.map((id) => `  ${id}`),
            ...(capped ? [capped] : []),
            'nothing was sent: run again with --apply to send it',
          ].join('\n')
        : 'dry run: no running saga matches; nothing would be sent',
    );
  } else {
    const { accepted, refused, failed } = report.counts!;
    io.out(`${action}: ${accepted} accepted, ${refused} refused, ${failed} failed (of ${report.orderIds.length})`);
    if (capped) io.out(capped);
  }
  return report.dryRun || report.counts!.accepted === report.orderIds.length ? 0 : 1;
}
