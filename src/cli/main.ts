/**
 * `refund-saga`, the program: the global options and the operator commands (start, status, list, override), on
 * commander. src/bin.ts adds the processes. Exit codes: 0 done, 1 refused (an override, an override to a saga that has
 * ended, any saga of a batch, or a start whose request differs from the order's saga) or failed, 2 bad input (one
 * line naming what is wrong).
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../config';
import { addHelpOption, addOutputOption, addTemporalOptions } from './global-options';
import { addListCommand } from './list';
import type { Output } from './output';
import { addOverrideCommand } from './override';
import { connectClient, type ConnectClient, type OperatorContext } from './session';
import { addStartCommand } from './start';
import { addStatusCommand } from './status';

/** The `refund-saga` program and how to run it. */
export interface CliProgram {
  /** The commander program, for more commands; they inherit its output and error handling. */
  program: Command;
  /** Parses `argv` (the arguments after the script) and runs the command; resolves to its exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** Strips commander's trailing newline: `Output` takes lines. */
const line = (text: string) => text.replace(/\n$/, '');

/**
 * Commander's message as one line: `refund-saga: unknown option '--watch' (see refund-saga list --help)`, its
 * suggestion (`(Did you mean --step?)`) kept on the same line.
 */
function usageLine(message: string, command: string): string {
  const text = line(message)
    .replace(/^error: /, '')
    .replaceAll('\n', ' ');
  return `refund-saga: ${text} (see refund-saga ${command ? `${command} ` : ''}--help)`;
}

/**
 * Builds the program writing to `io`. With `connect`, operator commands talk to Temporal through the clients it makes
 * (and leave them open); without, they connect as the flags say and close the connection when done.
 */
export function cliProgram(io: Output, connect?: ConnectClient): CliProgram {
  const context: OperatorContext = { io, connect: connect ?? connectClient, ownsClient: !connect, exitCode: 0 };
  let dispatched = '';
  const program = new Command('refund-saga')
    .description('Operate the durable refund saga on Temporal, and run its processes.')
    .version(packageVersion(), '-v, --version')
    // Options before the command are the program's, after it the command's: each command defines the global ones too.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(line(text)),
      writeErr: (text) => io.err(line(text)),
      outputError: (message, write) => write(usageLine(message, dispatched)),
    })
    .hook('preSubcommand', (_program, command) => {
      dispatched = command.name();
    });
  addTemporalOptions(addOutputOption(addHelpOption(program)));
  addStartCommand(program, context);
  addStatusCommand(program, context);
  addListCommand(program, context);
  addOverrideCommand(program, context);

  const run = async (argv: readonly string[]) => {
    context.exitCode = 0;
    try {
      await program.parseAsync(argv, { from: 'user' });
      return context.exitCode;
    } catch (err) {
      // Help and the version exit 0; everything else commander refuses is bad input.
      if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
      throw err;
    }
  };
  return { program, run };
}

/** Runs the operator CLI on `argv`; returns the exit code. `connect` is replaceable in tests. */
export function runCli(argv: readonly string[], io: Output, connect?: ConnectClient): Promise<number> {
  return cliProgram(io, connect).run(argv);
}
