import type { Request, RequestHandler } from 'express';
import { isIP } from 'node:net';
import type { AnyReply, OperationHandlers, OperationId, OperationRequest } from './contract.js';
import type { OpenApiRequest } from 'express-openapi-validator/dist/framework/types.js';
import './request-context.js';

/**
 * Calls the handler for the request's operation with its validated input and
 * sends the typed reply. Runs after the validator, so the input matches the spec.
 */
export function dispatch(handlers: OperationHandlers): RequestHandler {
  return async (req, res, next) => {
    const operation = req.operation;
    if (!operation) return next();
    const handler = handlers[operation.id] as (request: OperationRequest<OperationId>) => Promise<AnyReply>;
    const request = {
      // The validator's copy: it has coerced each parameter to its schema type.
      params: (req as OpenApiRequest).openapi?.pathParams ?? {},
      query: req.query,
      body: req.body as unknown,
      principal: req.principal,
      origin: { address: clientAddress(req), requestId: req.requestId, userAgent: userAgentOf(req) },
    } as unknown as OperationRequest<OperationId>;
    const reply = await handler(request);
    if (reply.headers) res.set(reply.headers);
    res.status(reply.status).json(reply.body);
  };
}

// Kept for the user's list of sessions: printable characters, at most 256.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]/g;
function userAgentOf(req: Request): string | undefined {
  const header = req.headers['user-agent'];
  return header === undefined ? undefined : header.replace(UNPRINTABLE, '').slice(0, 256);
}

/**
 * The client's address: what the trusted proxies report (TRUST_PROXY) when
 * it is an IP address, else the socket's. A forwarded value is the client's
 * word until a proxy vouches for it; it must not become a rate-limit key or
 * an audit entry of any shape.
 */
function clientAddress(req: Request): string {
  const reported = req.ip;
  if (reported !== undefined && isIP(reported) !== 0) return reported;
  return req.socket.remoteAddress ?? 'unknown';
}
