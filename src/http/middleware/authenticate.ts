import type { RequestHandler } from 'express';
import type { SessionService } from '../../domain/sessions.js';
import { AuthenticationFailed } from '../errors.js';
import '../request-context.js';

// RFC 6750: the scheme (any case), one or more spaces, the token.
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/**
 * Checks the bearer token where the operation reads one (its policy, from
 * the spec). Runs before request validation: a request without a valid token
 * learns nothing about its input.
 */
export function authenticate(sessions: SessionService): RequestHandler {
  return async (req, _res, next) => {
    const requirement = req.operation?.tokenRequirement ?? 'none';
    if (requirement === 'none') return next();

    // Node keeps only the first of repeated Authorization headers; two
    // credentials are ambiguous, so they are refused rather than resolved.
    const headers = req.headersDistinct.authorization;
    if (headers === undefined) {
      if (requirement === 'required') throw new AuthenticationFailed({ tokenSent: false });
      return next();
    }
    const token = headers.length === 1 ? BEARER.exec(headers[0])?.[1] : undefined;
    const principal = token === undefined ? undefined : await sessions.authenticate(token);
    if (!principal) throw new AuthenticationFailed({ tokenSent: true });
    req.principal = principal;
    next();
  };
}
