/**
 * The options every command takes, as the `temporal` CLI spells them: where Temporal is (`--address`, `-n`,
 * `--profile`, `--config-file`) and how to print (`-o json|table`). They are defined on the program and on each
 * command, so they work before the command and after it, and each command's help lists them.
 */
import { Option, type Command } from 'commander';
import type { TemporalFlags } from '../config';

const GLOBAL_OPTIONS = 'Global options:';

/** `-h, --help` among the global options, as in the `temporal` CLI; commands made after it inherit it. */
export function addHelpOption(program: Command): Command {
  return program.addHelpOption(new Option('-h, --help', 'display help for command').helpGroup(GLOBAL_OPTIONS));
}

/** How results are printed: `table` for people, `json` for scripts. */
export type OutputFormat = 'table' | 'json';

/** Adds `--address`, `-n, --namespace`, `--profile` and `--config-file`; `temporalConfig` fills in what is not given. */
export function addTemporalOptions(command: Command): Command {
  const options = [
    new Option('--address <host:port>', 'Temporal frontend (else TEMPORAL_ADDRESS, the profile, 127.0.0.1:7233)'),
    new Option('-n, --namespace <namespace>', 'Temporal namespace (else TEMPORAL_NAMESPACE, the profile, default)'),
    new Option('--profile <name>', 'profile of the envconfig file (else TEMPORAL_PROFILE, default)'),
    new Option('--config-file <path>', 'envconfig TOML file (else TEMPORAL_CONFIG_FILE, the platform default)'),
  ];
  for (const option of options) command.addOption(option.helpGroup(GLOBAL_OPTIONS));
  return command;
}

/** Adds `-o, --output json|table`. */
export function addOutputOption(command: Command): Command {
  return command.addOption(
    new Option('-o, --output <format>', 'how to print results (table unless given)')
      .choices(['table', 'json'] satisfies OutputFormat[])
      .helpGroup(GLOBAL_OPTIONS),
  );
}

/** An option's value given to `command`, else the one given before it (`refund-saga -n prod list`). */
function given(command: Command, key: string): string | undefined {
  return (command.opts()[key] ?? command.parent?.opts()[key]) as string | undefined;
}

/** The Temporal flags given to `command` (or before it), for `temporalConfig`. */
export function temporalFlags(command: Command): TemporalFlags {
  return {
    address: given(command, 'address'),
    namespace: given(command, 'namespace'),
    profile: given(command, 'profile'),
    configFile: given(command, 'configFile'),
  };
}

/** The output format given to `command` (or before it). */
export function outputFormat(command: Command): OutputFormat {
  return (given(command, 'output') as OutputFormat | undefined) ?? 'table';
}

/** `value` as one shell word, quoted only when it has to be. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The Temporal flags as arguments, so a printed "next:" command reaches the same cluster and namespace. */
export function temporalArgs(flags: TemporalFlags): string[] {
  const args: Array<[string, string | undefined]> = [
    ['--address', flags.address],
    ['-n', flags.namespace],
    ['--profile', flags.profile],
    ['--config-file', flags.configFile],
  ];
  return args
    .filter((a): a is [string, string] => a[1] !== undefined)
    .map(([flag, value]) => `${flag} ${shellWord(value)}`);
}
