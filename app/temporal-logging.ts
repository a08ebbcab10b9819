/**
 * The Temporal SDK's own log lines ("Activity failed", "Workflow task
 * failed", with the failure's message and stack) through the redacting
 * logger (app/logging.ts), instead of the SDK's default logger, which
 * prints them as they are: a failure message may carry a national id or a
 * name (issue #20, item 8).
 */
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The SDK's Logger interface over a pino logger made by createLogger (which scrubs message and metadata). */
export function sdkLogger(logger: Logger): SdkLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => logger[LEVELS[level] ?? 'info']({ ...meta, sdk: true }, message);
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
