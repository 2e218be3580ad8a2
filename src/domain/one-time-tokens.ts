// The tokens mail links carry (password reset, email verification): 256
// random bits, of which only a SHA-256 is stored, so a copy of the database
// opens no account.
import { createHash, randomBytes } from 'node:crypto';

export interface OneTimeToken {
  /** What the link carries. */
  token: string;
  /** What the database keeps. */
  hash: string;
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
