import type { RequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';
import { resolveOperation, type Operation } from '../operations.js';
import '../request-context.js';

/**
 * Finds the spec operation a request addresses, for authentication and
 * dispatch. Another method on a path the spec has is a 405 with Allow (RFC
 * 9110); HEAD runs as GET, and Node sends no body for it.
 */
export function resolveOperationMiddleware(operations: Operation[]): RequestHandler {
  return (req, res, next) => {
    const resolved = resolveOperation(operations, req.method, req.path);
    if (resolved.operation === undefined) {
      if (resolved.allowedMethods.length > 0) {
        res.setHeader('Allow', resolved.allowedMethods.join(', '));
        throw new validatorErrors.MethodNotAllowed({ path: req.path, message: `${req.method} is not allowed here` });
      }
      return next();
    }
    // The validator and the router know the operation as GET.
    if (req.method === 'HEAD') req.method = 'GET';
    req.operation = resolved.operation;
    req.rawPathParams = resolved.params;
    next();
  };
}
