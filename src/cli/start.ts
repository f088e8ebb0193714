/** `refund-saga start <file>`: starts the refund saga of the request in a JSON file. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { startRefund } from '../client';
import { parseRefundRequest } from '../domain';
import { addOutputOption, addTemporalOptions } from './global-options';
import { UsageError } from './output';
import { operatorAction, type OperatorContext } from './session';

/** The file's JSON, or a {@link UsageError} naming the file. */
function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Registers `start` on `program`. */
export function addStartCommand(program: Command, context: OperatorContext): void {
  const command = program
    .command('start')
    .description('start the refund saga of the request in a JSON file (the API’s POST /v1/refunds body)')
    .argument('<file>', 'the refund request, as JSON');
  addTemporalOptions(addOutputOption(command)).action(
    operatorAction(context, async (session, _options: object, file: string) => {
      const body = readJson(file);
      parseRefundRequest(body);
      const started = await startRefund(await session.connect(), body, { taskQueue: session.temporal().taskQueue });
      session.print(started, () =>
        started.alreadyExisted
          ? `refund ${started.workflowId} already exists (${started.status}); nothing new started`
          : `started ${started.workflowId} (run ${started.runId})`,
      );
      return 0;
    }),
  );
}
