import type { Administration } from '../../domain/administration.js';
import type { OperationHandlers } from '../contract.js';
import { NO_STORE } from './replies.js';

type AdminOperations =
  | 'searchUsers'
  | 'listAuditEvents'
  | 'deleteUser'
  | 'setUserRole'
  | 'disableUser'
  | 'enableUser'
  | 'endUserSessions'
  | 'resetUserMfa';

// Who may call these is the spec's `x-required-role`, checked before them.
export function adminHandlers(administration: Administration): Pick<OperationHandlers, AdminOperations> {
  return {
    async searchUsers({ query }) {
      const page = query.page ?? 1;
      const perPage = query.per_page ?? 10;
      const { users, total } = await administration.search(query.q, query.match ?? 'prefix', page, perPage);
      const views = users.map(({ email_verified_at, disabled_at, created_at, ...profile }) => ({
        ...profile,
        email_verified: email_verified_at !== null,
        disabled: disabled_at !== null,
        created_at: new Date(created_at).toISOString(),
      }));
      return {
        status: 200,
        body: { users: views, page, per_page: perPage, total_users: total },
        headers: NO_STORE,
      };
    },

    async listAuditEvents({ query }) {
      const page = query.page ?? 1;
      const perPage = query.per_page ?? 10;
      const filter = { userId: query.user_id, type: query.type };
      const { events, total } = await administration.auditTrail(filter, page, perPage);
      const views = events.map((event) => ({ ...event, occurred_at: new Date(event.occurred_at).toISOString() }));
      return { status: 200, body: { events: views, page, per_page: perPage, total }, headers: NO_STORE };
    },

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

    async resetUserMfa({ params, principal, origin }) {
      await administration.resetSecondFactor(principal, params.user_id, origin);
      return { status: 200, body: { message: 'Second factor reset' } };
    },
  };
}
