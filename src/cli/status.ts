/** `refund-saga status <orderId> [--watch]`: the saga's steps, deadlines and last errors as a table. */
import type { Command } from 'commander';
import { getRefundStatus } from '../client';
import { STEPS, type SagaStatusView } from '../domain';
import { addOutputOption, addTemporalOptions, temporalArgs } from './global-options';
import { orderIdArg, pad } from './output';
import { operatorAction, type OperatorContext } from './session';

const WATCH_INTERVAL_MS = 2000;

/** A saga status as the table an operator reads; `connection` are the Temporal flags its "next:" command repeats. */
export function renderStatus(view: SagaStatusView, connection: string[] = []): string {
  const rows = STEPS.map((name) => {
    const s = view.steps[name];
    const error = s.lastError ? `${s.lastError.type}: ${s.lastError.message}` : '';
    return `  ${pad(name, 8)} ${pad(s.state, 15)} ${pad(String(s.attempts), 8)} ${pad(s.state === 'waiting' || s.state === 'blocked' ? (s.deadline ?? '') : '', 25)} ${error || s.detail || ''}`;
  });
  const lines = [
    `order ${view.orderId}: ${view.status}${view.completedAt ? ` (ended ${view.completedAt})` : ''}`,
    '',
    `  ${pad('step', 8)} ${pad('state', 15)} ${pad('attempts', 8)} ${pad('deadline', 25)} detail / last error`,
    ...rows,
  ];
  if (view.overrides.length) {
    lines.push(
      '',
      'overrides:',
      ...view.overrides.map((o) => `  ${o.at} ${o.action}${o.step ? ` ${o.step}` : ''} by ${o.operator}: ${o.reason}`),
    );
  }
  if (view.status === 'needs_attention') {
    const blocked = STEPS.find((s) => view.steps[s].state === 'blocked');
    const next = [
      `refund-saga override ${view.orderId} retryStep|skipStep --step ${blocked ?? '<step>'} --operator <you> --reason "<why>"`,
      ...connection,
    ];
    lines.push('', `next: ${next.join(' ')}`);
  }
  return lines.join('\n');
}

/** Registers `status` on `program`. */
export function addStatusCommand(program: Command, context: OperatorContext): void {
  const command = program
    .command('status')
    .description("a table of the saga's steps, deadlines and last errors")
    .argument('<orderId>', 'the order whose refund to show')
    .option('--watch', 'render it again every 2 s until the saga ends');
  addTemporalOptions(addOutputOption(command)).action(
    operatorAction(context, async (session, { watch }: { watch?: boolean }, orderIdText: string) => {
      const orderId = orderIdArg(orderIdText);
      const client = await session.connect();
      for (;;) {
        const view = await getRefundStatus(client, orderId);
        session.print(view, () => renderStatus(view, temporalArgs(session.flags)));
        if (!watch || view.status === 'completed' || view.status === 'aborted') return 0;
        session.io.out(session.json ? '' : `\n… watching (every 2 s; Ctrl-C to stop) — ${new Date().toISOString()}\n`);
        await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
      }
    }),
  );
}
