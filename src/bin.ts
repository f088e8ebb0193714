#!/usr/bin/env node
/**
 * `refund-saga`: one binary for the operator commands (start, status, list, override) and the processes (worker, api,
 * stack, demo). The processes are loaded only when asked for, so the operator commands never load the sandboxes.
 */
import { runCli } from './cli/main';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'worker':
      await (await import('./worker/main.js')).runWorker();
      return 0;
    case 'api':
      await (await import('./api/main.js')).runApi();
      return 0;
    case 'stack':
      await (await import('./stack/start.js')).runStack();
      return 0;
    case 'demo':
      await (await import('./stack/demo.js')).runDemo();
      return process.exitCode === 1 ? 1 : 0;
    default:
      return runCli(command ? [command, ...rest] : [], {
        out: (line) => console.log(line),
        err: (line) => console.error(line),
      });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
