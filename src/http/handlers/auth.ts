import type { SessionService } from '../../domain/sessions.js';
import type { OperationHandlers } from '../contract.js';
import { AuthenticationFailed } from '../errors.js';
import { signedIn } from './replies.js';
import { signInReply } from './second-factor.js';

type AuthOperations = 'login' | 'logout' | 'checkToken';

export function authHandlers(sessions: SessionService): Pick<OperationHandlers, AuthOperations> {
  return {
    async login({ body, origin }) {
      return signInReply(await sessions.login(body.email, body.password, origin));
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
