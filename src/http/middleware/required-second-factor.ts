import type { RequestHandler } from 'express';
import { DomainError } from '../../domain/errors.js';
import type { Role } from '../../domain/model.js';
import '../request-context.js';

/**
 * With MFA_REQUIRED_ROLES: a token of such a role whose session was signed
 * into without a second factor opens only the operations the spec allows
 * (`x-allowed-without-second-factor`: reading the account, enrolling, logging
 * out). Runs after validation, where the contract puts permission checks.
 */
export function requireSecondFactorFor(roles: ReadonlySet<Role>): RequestHandler {
  return (req, _res, next) => {
    const { principal, operation } = req;
    if (
      principal &&
      roles.has(principal.role) &&
      !principal.authentication.amr.includes('otp') &&
      !operation?.allowedWithoutSecondFactor
    ) {
      throw new DomainError('second_factor_required');
    }
    next();
  };
}
