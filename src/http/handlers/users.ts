import type { UserService } from '../../domain/users.js';
import type { OperationHandlers } from '../contract.js';
import { NO_STORE, signedIn } from './replies.js';

type UserOperations = 'createUser' | 'getUser' | 'updateUser' | 'updateUserPassword' | 'listUsers';

export function userHandlers(users: UserService): Pick<OperationHandlers, UserOperations> {
  return {
    async createUser({ body, principal, origin }) {
      const { token, refreshToken } = await users.register(body, principal, origin);
      return { status: 201, body: { JWT: token, refresh_token: refreshToken }, headers: NO_STORE };
    },

    async getUser({ params, principal }) {
      return { status: 200, body: await users.getProfile(params.user_id, principal), headers: NO_STORE };
    },

    async updateUser({ params, body, principal, origin }) {
      await users.updateProfile(signedIn(principal), params.user_id, body, origin);
      return { status: 200, body: { id: params.user_id } };
    },

    async updateUserPassword({ params, body, principal, origin }) {
      const passwords = { existing: body.existing_password, new: body.password };
      await users.changePassword(signedIn(principal), params.user_id, passwords, origin);
      return { status: 200, body: { message: 'Password updated successfully' } };
    },

    async listUsers({ query }) {
      const page = query.page ?? 1;
      const perPage = query.per_page ?? 10;
      const { users: pageOfUsers, total } = await users.list(page, perPage);
      return {
        status: 200,
        body: { users: pageOfUsers, page, per_page: perPage, total_users: total },
        headers: NO_STORE,
      };
    },
  };
}
