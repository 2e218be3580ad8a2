// Structured JSON logs. Credentials never reach a log line: the paths that
// could carry them are redacted, whatever a caller passes.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  '*.password',
  '*.existing_password',
  '*.password_hash',
  '*.token',
  '*.jwtSecret',
];

export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
