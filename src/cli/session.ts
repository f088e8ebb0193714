/**
 * How an operator command runs: its Temporal settings from the flags, a client made on first use (so bad input exits
 * before anything connects), output as `-o` asks, and every error as one line and an exit code.
 */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { RequestConflictError, OverrideRejectedError } from '../client';
import { ConfigError, stackConfig, temporalConfig, type TemporalFlags, type TemporalSettings } from '../config';
import { InvalidRequestError } from '../domain';
import { dataConverterFromEnv, devStackDataConverter } from '../security/keys';
import { outputFormat, temporalFlags } from './global-options';
import { flagOf, UsageError, type Output } from './output';

/** Makes the client an operator command talks to Temporal with. */
export type ConnectClient = (settings: TemporalSettings) => Promise<Client>;

/**
 * Connects to the Temporal that `settings` name; a server that cannot be reached is an error naming its address.
 * Payloads are encrypted and decrypted with PAYLOAD_KEYS or PAYLOAD_KEYS_FILE when set; against the local dev stack
 * (no cluster configured), with the key the stack generated, as the worker it runs uses that.
 */
export async function connectClient({ connectionOptions, namespace, configured }: TemporalSettings): Promise<Client> {
  // Before connecting: a bad key setting is bad input (exit 2), not a failure to reach Temporal.
  const dataConverter = configured ? dataConverterFromEnv() : devStackDataConverter(stackConfig().stateDir);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: 5000 });
  } catch (err) {
    throw new Error(`cannot connect to Temporal at ${connectionOptions.address}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new Client({ connection, namespace, dataConverter });
}

/** What the operator commands of one run share; `exitCode` is the one the command chose. */
export interface OperatorContext {
  io: Output;
  connect: ConnectClient;
  /** False when the caller passed its own `connect`: then the caller closes the client, not the command. */
  ownsClient: boolean;
  exitCode: number;
}

/** One operator command's run. */
export class OperatorSession {
  /** The Temporal flags given on the command line. */
  readonly flags: TemporalFlags;
  /** True for `-o json`. */
  readonly json: boolean;
  private settings?: TemporalSettings;
  private client?: Client;

  constructor(
    private readonly context: OperatorContext,
    command: Command,
  ) {
    this.flags = temporalFlags(command);
    this.json = outputFormat(command) === 'json';
  }

  get io(): Output {
    return this.context.io;
  }

  /** Prints `value` as JSON with `-o json`, else the text. */
  print(value: unknown, text: () => string): void {
    this.io.out(this.json ? JSON.stringify(value, null, 2) : text());
  }

  /** The connection, namespace and task queue the flags, the profile and the environment name. */
  temporal(): TemporalSettings {
    return (this.settings ??= temporalConfig(this.flags));
  }

  /** The client, connected on first use. */
  async connect(): Promise<Client> {
    return (this.client ??= await this.context.connect(this.temporal()));
  }

  async close(): Promise<void> {
    if (this.context.ownsClient) await this.client?.connection.close();
  }
}

/** Prints `err` as one line and returns the exit code: 2 for bad input, 1 for a refusal or a failure. */
function reportError(err: unknown, io: Output): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
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
}

/**
 * A commander action for an operator command: `run` gets a session, the command's options and its arguments, and
 * returns the exit code; whatever it throws is printed as one line.
 */
export function operatorAction<Options, Args extends Array<string | undefined>>(
  context: OperatorContext,
  run: (session: OperatorSession, options: Options, ...args: Args) => Promise<number>,
) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params.at(-1) as Command;
    const session = new OperatorSession(context, command);
    try {
      context.exitCode = await run(session, command.opts() as Options, ...(command.processedArgs as Args));
    } catch (err) {
      context.exitCode = reportError(err, context.io);
    } finally {
      await session.close();
    }
  };
}
