import type { RequestHandler } from 'express';
import { DomainError } from '../../domain/errors.js';
import type { Principal } from '../../domain/model.js';
import '../request-context.js';

/**
 * An operation that changes how an account is signed into
 * (`x-requires-recent-authentication`) answers 403 to a session that proved
 * its user too long ago (REAUTH_MAX_AGE_SECONDS). Runs after validation,
 * where the contract puts permission checks.
 */
export function requireRecentAuthentication(isRecent: (principal: Principal) => boolean): RequestHandler {
  return (req, _res, next) => {
    const { principal, operation } = req;
    if (operation?.requiresRecentAuthentication && principal && !isRecent(principal)) {
      throw new DomainError('reauthentication_required');
    }
    next();
  };
}
