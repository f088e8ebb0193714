#!/usr/bin/env node
/**
 * `refund-saga`: one binary for the operator commands (start, status, list, override; src/cli) and the processes
 * (worker, api, stack, demo). A process's module is loaded only when its command runs, so the operator commands never
 * load the worker or the sandboxes.
 */
import type { Command } from 'commander';
import { cliProgram } from './cli/main';
import { addTemporalOptions, temporalFlags } from './cli/global-options';
import { telemetryConfig, type TemporalFlags } from './config';
import type { Tracing } from './telemetry';

/** The processes: name, what it is, and how it runs. */
const PROCESSES: Array<[string, string, (flags: TemporalFlags, tracing?: Tracing) => Promise<void>]> = [
  [
    'worker',
    'run the saga worker (workflows and provider activities) until SIGINT/SIGTERM',
    async (flags, tracing) => (await import('./worker/main.js')).runWorker(flags, tracing),
  ],
  [
    'api',
    'run the HTTP API for the order service and operators (needs API_TOKEN)',
    async (flags, tracing) => (await import('./api/main.js')).runApi(flags, tracing),
  ],
  [
    'stack',
    'run the local stack: a Temporal dev server (unless one is configured), the sandboxes, the worker and the API',
    async (flags, tracing) => (await import('./stack/start.js')).runStack(flags, tracing),
  ],
  [
    'demo',
    'start six demo refunds against the stack and show their states live',
    async (flags) => (await import('./stack/demo.js')).runDemo(flags),
  ],
];

function addProcessCommands(program: Command): void {
  for (const [name, description, run] of PROCESSES) {
    addTemporalOptions(program.command(name).description(description)).action(async (_options, command: Command) => {
      // Tracing starts before the process's modules load, so their HTTP calls (Fastify, provider clients) are traced.
      const tracing =
        name !== 'demo' && telemetryConfig() ? (await import('./telemetry.js')).startTracing(name) : undefined;
      await run(temporalFlags(command), tracing);
    });
  }
}

const cli = cliProgram({ out: (line) => console.log(line), err: (line) => console.error(line) });
addProcessCommands(cli.program);
cli.run(process.argv.slice(2)).then(
  // The demo sets process.exitCode itself when the stack is not running; a command's own nonzero code wins.
  (code) => {
    if (code) process.exitCode = code;
  },
  // A process that fails may leave handles open (a worker's runtime, a child server): exit rather than wait on them.
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
