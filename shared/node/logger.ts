/**
 * pino JSON logs with secrets redacted by path, so a token in a config, a header or an error never reaches
 * the log. Every process makes its logger here.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  '*.password',
  '*.token',
  '*.secret',
  '*.secretKey',
  '*.apiKey',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'config.*.auth',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino({
    name,
    level: process.env.SLUICE_LOG_LEVEL ?? options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
