/**
 * Logs of every process, through pino: JSON lines in production, readable lines in the dev stack. The Temporal
 * runtime's logger (worker, workflow and activity logs, which carry the workflow and activity ids) writes here too.
 */
import { DefaultLogger, type LogLevel, type LogEntry } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import type { LogConfig } from './config';

export type { Logger } from 'pino';

/** A pino logger for one process (`name`: worker, api, stack, …). */
export function createLogger(name: string, config: LogConfig): Logger {
  return pino({
    name,
    level: config.level,
    ...(config.format === 'pretty' && {
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' },
      },
    }),
  });
}

const TEMPORAL_TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};
const PINO_TO_TEMPORAL: Partial<Record<string, LogLevel>> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
};

/** The Temporal runtime's logger, writing to `logger`: pass to `Runtime.install({ logger })`. */
export function temporalLogger(logger: Logger): DefaultLogger {
  const level = PINO_TO_TEMPORAL[logger.level] ?? 'ERROR';
  return new DefaultLogger(level, (entry: LogEntry) => {
    logger[TEMPORAL_TO_PINO[entry.level]]({ ...entry.meta }, entry.message);
  });
}
