/**
 * `refund-saga`: the operator CLI. Talks to Temporal directly (connection from `@temporalio/envconfig`, e.g.
 * TEMPORAL_ADDRESS). Exit codes: 0 done, 1 refused (an override, an override to a saga that has ended, any saga of a
 * batch, or a start whose request differs from the order's saga) or failed, 2 bad input (with a one-line message).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import {
  getRefundStatus,
  OverrideIdSchema,
  OverrideRejectedError,
  parseOverride,
  RequestConflictError,
  sendOverride,
  startRefund,
  TASK_QUEUE,
} from '../client';
import {
  InvalidRequestError,
  OrderIdSchema,
  OVERRIDE_ACTIONS,
  parseRefundRequest,
  STEPS,
  type SagaStatusView,
} from '../domain';
import { listOptions, runList } from './list';
import { flagOf, pad, UsageError, type Output } from './output';
import { batchOptions, batchTarget, runOverrideBatch } from './override-batch';

const USAGE = `usage: refund-saga <command> [options]

  start <file.json>                       start the refund saga of the request in the file
  status <orderId> [--watch]              a table of steps, deadlines and last errors
  list [--status needs_attention] [--step <step>] [--carbon-provider <stripe_climate|squake|none>]
       [--error-type <type, e.g. ProviderOutage>] [--page-size <1-100>] [--page-token <token>] [--all]
                                          refunds from Temporal visibility, with each blocked step's error
  override <orderId> <action> --operator <who> --reason <why>
           [--step <step>] [--evidence <text>] [--duration <30m|6h|2d>] [--id <idempotency id>]
           actions: ${OVERRIDE_ACTIONS.join(', ')}
  override --where '<visibility query>' | --orders <id,id,…> <action> … [--apply] [--concurrency <1-32>]
           one override to many running sagas: lists them (a dry run) unless --apply

  --json on every command prints JSON instead of tables.
  Connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (or an envconfig profile); task queue TEMPORAL_TASK_QUEUE.`;

/** A saga status as the table an operator reads. */
export function renderStatus(view: SagaStatusView): string {
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
    lines.push(
      '',
      `next: refund-saga override ${view.orderId} retryStep|skipStep --step ${blocked ?? '<step>'} --operator <you> --reason "<why>"`,
    );
  }
  return lines.join('\n');
}

function orderIdArg(value: string | undefined): string {
  if (!value) throw new UsageError('missing <orderId>');
  const parsed = OrderIdSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`orderId ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

async function connect(): Promise<Client> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await Connection.connect({ ...connectionOptions, connectTimeout: 5000 });
  return new Client({ connection, namespace });
}

/** Runs the CLI; returns the exit code. `connectClient` is replaceable in tests. */
export async function runCli(
  argv: string[],
  io: Output,
  connectClient: () => Promise<Client> = connect,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        watch: { type: 'boolean' },
        status: { type: 'string' },
        step: { type: 'string' },
        operator: { type: 'string' },
        reason: { type: 'string' },
        evidence: { type: 'string' },
        duration: { type: 'string' },
        id: { type: 'string' },
        where: { type: 'string' },
        orders: { type: 'string' },
        apply: { type: 'boolean' },
        concurrency: { type: 'string' },
        all: { type: 'boolean' },
        'page-size': { type: 'string' },
        'page-token': { type: 'string' },
        'carbon-provider': { type: 'string' },
        'error-type': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`refund-saga: ${(err as Error).message} (see refund-saga --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    if (values.help) io.out(USAGE);
    else io.err(USAGE);
    return values.help ? 0 : 2;
  }
  const print = (value: unknown, text: () => string) => io.out(values.json ? JSON.stringify(value, null, 2) : text());

  let client: Client | undefined;
  try {
    switch (command) {
      case 'start': {
        const file = rest[0];
        if (!file) throw new UsageError('missing <file.json>');
        let body: unknown;
        try {
          body = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
        }
        parseRefundRequest(body);
        client = await connectClient();
        const started = await startRefund(client, body, { taskQueue: process.env.TEMPORAL_TASK_QUEUE ?? TASK_QUEUE });
        print(started, () =>
          started.alreadyExisted
            ? `refund ${started.workflowId} already exists (${started.status}); nothing new started`
            : `started ${started.workflowId} (run ${started.runId})`,
        );
        return 0;
      }
      case 'status': {
        const orderId = orderIdArg(rest[0]);
        client = await connectClient();
        for (;;) {
          const view = await getRefundStatus(client, orderId);
          print(view, () => renderStatus(view));
          const ended = view.status === 'completed' || view.status === 'aborted';
          if (!values.watch || ended) return 0;
          io.out(values.json ? '' : `\n… watching (every 2 s; Ctrl-C to stop) — ${new Date().toISOString()}\n`);
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
      case 'list': {
        const options = listOptions(values);
        client = await connectClient();
        await runList(client, values, options, io);
        return 0;
      }
      case 'override': {
        const batch = values.where !== undefined || values.orders !== undefined;
        if (batch) batchTarget(values);
        const orderId = batch ? undefined : orderIdArg(rest[0]);
        const action = batch ? rest[0] : rest[1];
        if (!action) throw new UsageError(`missing <action>: one of ${OVERRIDE_ACTIONS.join(', ')}`);
        const id = values.id === undefined ? undefined : OverrideIdSchema.safeParse(values.id);
        if (id && !id.success) throw new UsageError(`--id ${id.error.issues[0]!.message}`);
        const input = {
          action,
          ...(values.step && { step: values.step }),
          ...(values.operator !== undefined && { operator: values.operator }),
          ...(values.reason !== undefined && { reason: values.reason }),
          ...(values.evidence && { evidence: values.evidence }),
          ...(values.duration && {
            duration: /^\d+$/.test(values.duration) ? Number(values.duration) : values.duration,
          }),
        };
        parseOverride(input);
        if (batch) {
          const options = batchOptions(values, input);
          client = await connectClient();
          return await runOverrideBatch(client, options, values, io);
        }
        client = await connectClient();
        const view = await sendOverride(client, orderId!, input, { id: id?.data });
        print(view, () => `accepted: ${action}\n\n${renderStatus(view)}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}" (see refund-saga --help)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`refund-saga: ${err.message}`);
      return 2;
    }
    if (err instanceof InvalidRequestError) {
      io.err(`refund-saga: ${err.issues.map((i) => `${flagOf(i.path)} ${i.message}`).join('; ')}`);
      return 2;
    }
    if (err instanceof RequestConflictError) {
      io.err(`refund-saga: refused: ${err.message}`);
      return 1;
    }
    if (err instanceof OverrideRejectedError) {
      io.err(`refund-saga: rejected: ${err.message}`);
      return 1;
    }
    if (err instanceof WorkflowNotFoundError) {
      io.err(`refund-saga: no refund for that order`);
      return 1;
    }
    io.err(`refund-saga: ${(err as Error).message}`);
    return 1;
  } finally {
    if (connectClient === connect) await client?.connection.close();
  }
}
