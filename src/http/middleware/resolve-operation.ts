import type { RequestHandler } from 'express';
import { resolveOperation, type Operation } from '../spec.js';
import '../request-context.js';

/** Finds the spec operation a request addresses, for authentication and dispatch. */
export function resolveOperationMiddleware(operations: Operation[]): RequestHandler {
  return (req, _res, next) => {
    const resolved = resolveOperation(operations, req.method, req.path);
    req.operation = resolved?.operation;
    req.rawPathParams = resolved?.params;
    next();
  };
}
