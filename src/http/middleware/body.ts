import type { RequestHandler } from 'express';
import { normalizeText } from '../../domain/normalize.js';
import { InvalidInput, UnreadableBody } from '../errors.js';
import '../request-context.js';

/**
 * Parses the JSON body of operations that take one, first of all checks (an
 * unreadable body is a 409 before authentication). Other requests' bodies are
 * never read, so a stray body on, say, POST /logout can't earn an
 * undocumented 409.
 */
export function parseJsonBody(jsonParser: RequestHandler): RequestHandler {
  return (req, res, next) => {
    if (!req.operation?.hasRequestBody) return next();
    if (hasBody(req) && !req.is('application/json')) throw new UnreadableBody('not sent as application/json');
    jsonParser(req, res, next);
  };
}

function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

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

// Keys that reach object prototypes when code copies or merges a body.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Refuses (400), at any depth of a body, a prototype-polluting key, and text
 * with a lone UTF-16 surrogate: it can't be stored or hashed as sent (UTF-8
 * turns every lone surrogate into the same U+FFFD).
 */
export const refuseUnsafeContent: RequestHandler = (req, _res, next) => {
  const pending: [unknown, string][] = [[req.body, 'body']];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === 'string' && !value.isWellFormed()) throw new InvalidInput(path, 'is not well-formed Unicode text');
    if (value === null || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new InvalidInput(`${path}.${key}`, 'is not an allowed field name');
      pending.push([(value as Record<string, unknown>)[key], `${path}.${key}`]);
    }
  }
  next();
};
