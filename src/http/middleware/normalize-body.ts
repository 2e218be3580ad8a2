import type { RequestHandler } from 'express';
import { normalizeText } from '../../domain/normalize.js';

const isPasswordField = (name: string): boolean => name.endsWith('password');

/**
 * Trims and NFKC-normalizes the body's string fields before validation, so
 * the validator judges what will be stored. Passwords are left exactly as sent.
 */
export const normalizeBody: RequestHandler = (req, _res, next) => {
  const body: unknown = req.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === 'string' && !isPasswordField(name)) fields[name] = normalizeText(value);
    }
  }
  next();
};
