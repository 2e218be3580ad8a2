import type { Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's response headers, worked out once: with a fixed policy they are
 * the same for every request, so each response only copies them instead of
 * running helmet's dozen middlewares.
 */
export function securityHeaders(options: Readonly<HelmetOptions>): RequestHandler {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.push([name, String(value)]);
    },
    removeHeader() {}, // X-Powered-By, which the app never sets
  };
  helmet(options)({} as Request, recorder as unknown as Response, () => {});
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
