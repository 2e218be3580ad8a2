import { amrOf } from '../../domain/model.js';
import type { SessionService } from '../../domain/sessions.js';
import type { OperationHandlers } from '../contract.js';
import { NO_STORE, signedIn } from './replies.js';

type SessionOperations = 'listSessions' | 'endOtherSessions' | 'endSession';

export function sessionHandlers(sessions: SessionService): Pick<OperationHandlers, SessionOperations> {
  return {
    async listSessions({ principal }) {
      const own = await sessions.listOwn(signedIn(principal));
      return {
        status: 200,
        body: {
          sessions: own.map(({ amr, ...session }) => ({
            ...session,
            methods: amrOf(amr),
            authenticated_at: new Date(session.authenticated_at).toISOString(),
            created_at: new Date(session.created_at).toISOString(),
            expires_at: new Date(session.expires_at * 1000).toISOString(),
          })),
        },
        headers: NO_STORE,
      };
    },

    async endOtherSessions({ principal, origin }) {
      return { status: 200, body: { ended: await sessions.endOthers(signedIn(principal), origin) } };
    },

    async endSession({ params, principal, origin }) {
      await sessions.endOwn(signedIn(principal), params.session_id, origin);
      return { status: 200, body: { message: 'Session ended' } };
    },
  };
}
