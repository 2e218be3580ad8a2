import type { RequestHandler } from 'express';
import { InvalidInput } from '../errors.js';
import '../request-context.js';

// The validator turns parameters into numbers with Number(), which also takes
// "1e3", "0x1", "+1", " 1" and "1.0". An integer parameter must be written as
// one: decimal digits, no sign, no leading zero.
const CANONICAL_INTEGER = /^(0|[1-9][0-9]{0,15})$/;

/** Refuses integer path and query parameters that are not plain decimal integers (400). */
export const requireCanonicalIntegers: RequestHandler = (req, _res, next) => {
  for (const parameter of req.operation?.integerParameters ?? []) {
    const field = `${parameter.in === 'path' ? 'params' : 'query'}.${parameter.name}`;
    const raw =
      parameter.in === 'path'
        ? decodedPathParameter(req.rawPathParams?.[parameter.name], field)
        : req.query[parameter.name];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || !CANONICAL_INTEGER.test(raw)) {
      throw new InvalidInput(field, 'must be a whole number written in decimal digits');
    }
  }
  next();
};

function decodedPathParameter(raw: string | undefined, field: string): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidInput(field, 'is not a valid percent-encoded value');
  }
}
