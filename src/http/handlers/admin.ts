import type { Administration } from '../../domain/administration.js';
import type { OperationHandlers } from '../contract.js';

type AdminOperations = 'deleteUser' | 'setUserRole' | 'disableUser' | 'enableUser' | 'endUserSessions';

// Who may call these is the spec's `x-required-role`, checked before them.
export function adminHandlers(administration: Administration): Pick<OperationHandlers, AdminOperations> {
  return {
    async deleteUser({ params, principal, origin }) {
      await administration.delete(principal, params.user_id, origin);
      return { status: 200, body: { message: 'Account deleted' } };
    },

    async setUserRole({ params, body, principal, origin }) {
      await administration.setRole(principal, params.user_id, body.role, origin);
      return { status: 200, body: { id: params.user_id, role: body.role } };
    },

    async disableUser({ params, principal, origin }) {
      await administration.disable(principal, params.user_id, origin);
      return { status: 200, body: { message: 'Account disabled' } };
    },

    async enableUser({ params, principal, origin }) {
      await administration.enable(principal, params.user_id, origin);
      return { status: 200, body: { message: 'Account enabled' } };
    },

    async endUserSessions({ params, principal, origin }) {
      return { status: 200, body: { ended: await administration.endSessions(principal, params.user_id, origin) } };
    },
  };
}
