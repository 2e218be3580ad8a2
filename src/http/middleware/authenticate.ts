import type { Request, RequestHandler } from 'express';
import type { SessionService } from '../../domain/sessions.js';
import { AuthenticationFailed } from '../errors.js';
import '../request-context.js';

// RFC 6750: the scheme (any case), one or more spaces, the token.
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;
// A user id as validation will accept it; anything else is left to validation.
const USER_ID = /^[1-9][0-9]{0,9}$/;
const MAX_USER_ID = 2_147_483_647;

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
    const principal = token === undefined ? undefined : await sessions.authenticate(token, profileToReadAlong(req));
    if (!principal) throw new AuthenticationFailed({ tokenSent: true });
    req.principal = principal;
    next();
  };
}

/** The user whose profile the operation reads, to fetch with the session (`x-profile-with-session`). */
function profileToReadAlong(req: Request): number | undefined {
  const parameter = req.operation?.profileWithSession;
  const raw = parameter === undefined ? undefined : req.rawPathParams?.[parameter];
  if (raw === undefined || !USER_ID.test(raw) || Number(raw) > MAX_USER_ID) return undefined;
  return Number(raw);
}
