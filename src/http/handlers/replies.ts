import type { IssuedToken, Principal } from '../../domain/model.js';
import type { ResponseBody } from '../contract.js';
import { AuthenticationFailed } from '../errors.js';

/** Replies that carry a token or personal data must not be stored by caches or proxies. */
export const NO_STORE = { 'Cache-Control': 'no-store' };

/** The caller of an operation that requires a token (the authenticate middleware has set it). */
export function signedIn(principal: Principal | undefined): Principal {
  if (!principal) throw new AuthenticationFailed({ tokenSent: false });
  return principal;
}

/** `2023-01-01T12:00:00Z`: a token's exp is whole seconds, so no fraction is shown. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A new session's tokens, as `POST /login`'s 200 (and every answer like it) has them. */
export function loginResult({ token, expiresAt, refreshToken }: IssuedToken): ResponseBody<'login', 200> {
  return { access_token: token, expires_at: isoSeconds(expiresAt), refresh_token: refreshToken };
}
