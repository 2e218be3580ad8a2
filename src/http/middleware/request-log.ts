import type { RequestHandler } from 'express';
import type { Logger } from '../../logger.js';
import '../request-context.js';

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
