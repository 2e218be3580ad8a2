// Single-use secrets: the tokens mail links carry (password reset, email
// verification) and refresh tokens. 256 random bits, of which only a
// SHA-256 is stored, so a copy of the database opens no account.
import { createHash, randomBytes } from 'node:crypto';
import type { OneTimeTokenRepository } from './ports.js';

export interface OneTimeToken {
  /** What the link carries. */
  token: string;
  /** What the database keeps. */
  hash: string;
}

/**
 * Voids the account's older tokens of this kind and stores a new one for
 * `email`, in the caller's transaction; returns the token, for the link.
 */
export async function issueOneTimeToken(
  tokens: OneTimeTokenRepository,
  userId: number,
  email: string,
  ttlSeconds: number,
  nowMs: number,
): Promise<string> {
  const { token, hash } = newOneTimeToken();
  await tokens.deleteAllOfUser(userId);
  await tokens.insert({
    user_id: userId,
    email,
    token_hash: hash,
    expires_at: nowMs + ttlSeconds * 1000,
    created_at: nowMs,
  });
  return token;
}

export function newOneTimeToken(): OneTimeToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: oneTimeTokenHash(token) };
}

export function oneTimeTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The app's page for a token: `template` with `{token}` replaced. */
export function linkWith(template: string, token: string): string {
  return template.replace('{token}', encodeURIComponent(token));
}
