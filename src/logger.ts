// Structured JSON logs: one line per request (pino-http) and lines for what
// the service itself does. Credentials never reach a log line: request lines
// carry only method, path, route and status, never headers or bodies, and the
// paths that could hold a secret are redacted whatever a caller passes.
import type { Request, RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
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
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } });
  return pino(options);
}

/** One line per finished request: method, path, spec route, status, duration and request id. */
export function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req) => (req as unknown as { requestId: string }).requestId,
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customProps: (req) => ({ route: (req as unknown as Request).operation?.path }),
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
  }) as unknown as RequestHandler;
}
