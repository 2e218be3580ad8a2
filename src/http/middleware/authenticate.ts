import type { RequestHandler } from 'express';
import type { SessionService } from '../../domain/sessions.js';
import { AuthenticationFailed } from '../errors.js';
import type { TokenRequirement } from '../spec.js';
import '../request-context.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/**
 * Checks the bearer token where the operation reads one. Runs before request
 * validation: a request without a valid token learns nothing about its input.
 */
export function authenticate(sessions: SessionService, options: { usersListRequiresAuth: boolean }): RequestHandler {
  return async (req, _res, next) => {
    const operation = req.operation;
    if (!operation) return next();
    const requirement: TokenRequirement =
      operation.id === 'listUsers' && options.usersListRequiresAuth ? 'required' : operation.tokenRequirement;
    if (requirement === 'none') return next();

    const header = req.headers.authorization;
    if (header === undefined) {
      if (requirement === 'required') throw new AuthenticationFailed();
      return next();
    }
    const token = BEARER.exec(header)?.[1];
    const principal = token === undefined ? undefined : await sessions.authenticate(token);
    if (!principal) throw new AuthenticationFailed();
    req.principal = principal;
    next();
  };
}
