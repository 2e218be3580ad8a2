// Structured JSON logs: one line per request and lines for what
// the service itself does. Credentials never reach a log line: request lines
// carry only method, path, route and status, never headers or bodies, and the
// paths that could hold a secret are redacted whatever a caller passes.
import type { RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import './http/request-context.js';

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
 * One line per finished request: method, path, spec route, status, duration
 * and request id, written when the response is finished or the client has
 * gone. The line is built here from those fields alone, so it is written
 * without the redaction pass (which cost more than the rest of the line), and
 * without pino-http's per-request child logger: together they took about
 * 40% of GET /protected's throughput (bench/README.md).
 */
export function requestLogger(logger: Logger): RequestHandler {
  const requestLines = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const started = performance.now();
    const method = req.method; // as sent: HEAD is answered as GET
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      // Aborted: the client left before the answer was sent, or while sending its body.
      const aborted = req.readableAborted || !res.writableFinished;
      const line = {
        req: { id: req.requestId, method, path: req.originalUrl.split('?')[0] },
        res: { statusCode: res.headersSent ? res.statusCode : null },
        route: req.operation?.path,
        responseTime: Math.round(performance.now() - started),
      };
      if (aborted) requestLines.warn(line, 'request aborted');
      // 503 is load shed on purpose (a full hashing queue, not ready): a flood must not fill the error log.
      else if (res.statusCode === 503) requestLines.warn(line, 'request refused: busy');
      else if (res.statusCode >= 500) requestLines.error(line, 'request failed');
      else requestLines.info(line, 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
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
