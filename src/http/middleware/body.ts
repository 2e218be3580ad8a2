import type { RequestHandler } from 'express';
import { isUtf8 } from 'node:buffer';
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

/**
 * express.json's `verify` hook: a body that is not valid UTF-8 is unreadable
 * (409), rather than decoded with U+FFFD in place of the bad bytes.
 */
export function refuseInvalidUtf8(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw new UnreadableBody('not valid UTF-8');
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

// C0 and C1 control characters and DEL: no field holds them legitimately;
// NUL can't be stored in PostgreSQL text at all, and the others hide text in
// logs and admin screens.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Refuses (400), at any depth of a body, a prototype-polluting key, text
 * with a control character, and text with a lone UTF-16 surrogate: it can't
 * be stored or hashed as sent (UTF-8 turns every lone surrogate into the
 * same U+FFFD).
 */
export const refuseUnsafeContent: RequestHandler = (req, _res, next) => {
  const pending: [unknown, string][] = [[req.body, 'body']];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === 'string') {
      if (!value.isWellFormed()) throw new InvalidInput(path, 'is not well-formed Unicode text');
      if (CONTROL_CHARACTER.test(value)) throw new InvalidInput(path, 'contains a control character');
    }
    if (value === null || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new InvalidInput(`${path}.${key}`, 'is not an allowed field name');
      pending.push([(value as Record<string, unknown>)[key], `${path}.${key}`]);
    }
  }
  next();
};
