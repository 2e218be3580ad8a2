import type { RequestHandler } from 'express';
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
      body: req.body,
      principal: req.principal,
      origin: { address: req.ip ?? 'unknown', requestId: req.requestId },
    } as unknown as OperationRequest<OperationId>;
    const reply = await handler(request);
    if (reply.headers) res.set(reply.headers);
    res.status(reply.status).json(reply.body);
  };
}
