import type { RequestHandler } from 'express';
import { DomainError } from '../../domain/errors.js';
import '../request-context.js';

/**
 * An operation whose spec names a role (`x-required-role`) answers 403 to a
 * caller without it, whether or not the target exists. Runs after
 * validation, where the contract puts permission checks; the domain checks
 * again inside its transaction (a role can change while a request runs).
 */
export const requireRole: RequestHandler = (req, _res, next) => {
  const required = req.operation?.requiredRole;
  if (required !== undefined && req.principal?.role !== required) throw new DomainError('forbidden');
  next();
};
