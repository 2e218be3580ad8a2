import type { SessionService } from '../../domain/sessions.js';
import type { OperationHandlers } from '../contract.js';
import { AuthenticationFailed } from '../errors.js';
import { isoSeconds, NO_STORE, signedIn } from './replies.js';

type AuthOperations = 'login' | 'logout' | 'checkToken';

export function authHandlers(sessions: SessionService): Pick<OperationHandlers, AuthOperations> {
  return {
    async login({ body, origin }) {
      const { token, expiresAt, refreshToken } = await sessions.login(body.email, body.password, origin);
      return {
        status: 200,
        body: { access_token: token, expires_at: isoSeconds(expiresAt), refresh_token: refreshToken },
        headers: NO_STORE,
      };
    },

    async logout({ principal, origin }) {
      // Two logouts racing on one token: the one that finds the session gone gets 401.
      if (!(await sessions.logout(signedIn(principal), origin))) throw new AuthenticationFailed({ tokenSent: true });
      return { status: 200, body: { message: 'Logout successful' } };
    },

    async checkToken() {
      return { status: 200, body: { message: 'Token is valid' } };
    },
  };
}
