// Structured JSON logs for what the service does (the request lines come from
// http/middleware/request-log.ts). Credentials never reach a log line: the
// paths that could hold a secret are redacted whatever a caller passes, and
// driver errors are logged without their SQL.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.existing_password',
  '*.password_hash',
  '*.token',
  '*.access_token',
  '*.JWT',
  '*.jwtSecret',
];

export function createLogger(level: Config['logLevel'], destination?: DestinationStream, pretty = false): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (destination) return pino(options, destination);
  if (pretty)
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } });
  return pino(options);
}

/**
 * What may be logged of an unexpected error. Knex prefixes driver errors with
 * the SQL and its values inlined (password hashes, session ids), so only the
 * driver's own message after the last " - " is kept, on one line.
 */
export function describeSafely(error: unknown): { name: string; code?: string; message: string } {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const driverMessage = text.includes(' - ') ? text.slice(text.lastIndexOf(' - ') + 3) : text;
  return {
    name: typeof name === 'string' ? name : 'Error',
    ...(typeof code === 'string' ? { code } : {}),
    message: (driverMessage.split('\n')[0] ?? '').slice(0, 200),
  };
}
