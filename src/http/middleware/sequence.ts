import type { RequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';

/**
 * Runs middleware one after another as a single Express layer. Express 5
 * spends about 10 µs of CPU per layer on every request on this project's
 * machines (path matching, parameter handling), and the steps before
 * validation run on every request: as one layer, GET /protected took about
 * 120 µs less (bench/README.md). As in Express, an error thrown,
 * rejected or passed to next goes to the error handlers.
 */
export function inSequence(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let index = 0;
    const next = (error?: unknown): void => {
      // 'route' only skips the rest of a route's handlers, and these are middleware.
      if (error && error !== 'route') return done(error);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result = handler(req, res, next);
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (rejection: unknown) =>
            done(rejection ?? new Error('Rejected promise')),
          );
        }
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}

/**
 * GET (and HEAD) paths outside the API spec, such as the docs and /metrics,
 * found with one map lookup: mounted as routers before the API, they cost
 * every API request about 130 µs of route matching. Matched as Express and
 * the API match paths (any case, one trailing slash); another method on one
 * of them is a 405 with Allow.
 */
export function fixedRoutes(routes: Record<string, RequestHandler>): RequestHandler {
  const byPath = new Map(Object.entries(routes).map(([path, handler]) => [path.toLowerCase(), handler]));
  return (req, res, next) => {
    const path = req.path.length > 1 ? req.path.replace(/\/$/, '').toLowerCase() : req.path;
    const handler = byPath.get(path);
    if (!handler) return next();
    if (req.method === 'GET' || req.method === 'HEAD') return handler(req, res, next);
    res.setHeader('Allow', 'GET, HEAD');
    throw new validatorErrors.MethodNotAllowed({ path: req.path, message: `${req.method} is not allowed here` });
  };
}
