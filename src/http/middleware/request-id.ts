import type { RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import '../request-context.js';

// Short and plain, so a caller can't forge or garble audit-trail entries.
const USABLE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Takes the client's X-Request-Id when it is short and plain, makes one otherwise, and echoes it. */
export const assignRequestId: RequestHandler = (req, res, next) => {
  const sent = req.headers['x-request-id'];
  req.requestId = typeof sent === 'string' && USABLE_REQUEST_ID.test(sent) ? sent : randomUUID();
  res.setHeader('X-Request-Id', req.requestId);
  next();
};
