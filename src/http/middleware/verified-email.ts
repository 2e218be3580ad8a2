import type { RequestHandler } from 'express';
import { DomainError } from '../../domain/errors.js';
import '../request-context.js';

/**
 * With REQUIRE_VERIFIED_EMAIL: a token whose account has not verified its
 * email opens only the operations the spec allows before verification
 * (`x-allowed-before-email-verification`). Runs after validation, where the
 * contract puts permission checks.
 */
export const requireVerifiedEmail: RequestHandler = (req, _res, next) => {
  const { principal, operation } = req;
  if (principal && !principal.emailVerified && !operation?.allowedBeforeEmailVerification) {
    throw new DomainError('email_not_verified');
  }
  next();
};
