import type { SessionService } from '../../domain/sessions.js';
import type { PublicJwk } from '../../domain/signing-keys.js';
import type { OperationHandlers } from '../contract.js';
import { loginResult, NO_STORE } from './replies.js';

export interface PublishedKeys {
  /** The public keys whose tokens are accepted now (none with HS256). */
  current(): PublicJwk[];
  /** How long verifiers may cache them. */
  maxAgeSeconds: number;
}

export function tokenHandlers(
  sessions: SessionService,
  keys: PublishedKeys,
): Pick<OperationHandlers, 'refreshToken' | 'getSigningKeys'> {
  return {
    async refreshToken({ body, origin }) {
      return { status: 200, body: loginResult(await sessions.refresh(body.refresh_token, origin)), headers: NO_STORE };
    },

    async getSigningKeys() {
      return {
        status: 200,
        body: { keys: keys.current() },
        headers: { 'Cache-Control': `public, max-age=${keys.maxAgeSeconds}` },
      };
    },
  };
}
