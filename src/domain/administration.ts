// What admins do to other accounts over the API, and operators with the CLI:
// roles, disabling, deleting, signing out. Each change runs in one
// transaction that first takes the users counter (as inserts and erasures
// do), so changes that must leave an admin take turns; and it checks again,
// under that lock, that the acting admin still is one.
import { auditEntry } from './audit.js';
import { DomainError } from './errors.js';
import { eraseAccount } from './erasure.js';
import { secondFactorNotice } from './messages.js';
import type { Principal, RequestOrigin, Role } from './model.js';
import { canonicalEmail } from './normalize.js';
import type { Repositories, SecurityEventType, Store } from './ports.js';

/** Emails are stored lower-case and user names compared by a lower-case key. */
function searchKey(text: string): string {
  return text.normalize('NFKC').trim().toLowerCase();
}

/** Who acts: a signed-in admin, or an operator (undefined) outside the API's rules. */
type Actor = Principal | undefined;

export class Administration {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** Users whose email or user name is `text` or starts with it, as admins see them. */
  async search(text: string, match: 'exact' | 'prefix', page: number, perPage: number) {
    return this.store.users.search(searchKey(text), match, (page - 1) * perPage, perPage);
  }

  /** The audit trail, newest first. */
  async auditTrail(filter: { userId?: number; type?: SecurityEventType }, page: number, perPage: number) {
    return this.store.securityEvents.list(filter, (page - 1) * perPage, perPage);
  }

  /** The id of the account with this email, for operators who name accounts by email. */
  async idOf(email: string): Promise<number | undefined> {
    return (await this.store.users.findCredentialsByEmail(canonicalEmail(email)))?.id;
  }

  /** Applies from the user's very next request: the session lookup reads the role. */
  async setRole(actor: Actor, id: number, role: Role, origin: RequestOrigin): Promise<void> {
    await this.asAdmin(actor, async ({ users, securityEvents }) => {
      const target = await users.findById(id);
      if (!target || !(await users.setRole(id, role))) throw new DomainError('user_not_found');
      if (target.role === 'admin' && role !== 'admin') await this.keepAnAdmin(users);
      await securityEvents.insert(auditEntry('role_changed', id, origin, actor?.userId));
    });
  }

  /** Every session ends; the credential generation moves on, so no login in flight gets through. */
  async disable(actor: Actor, id: number, origin: RequestOrigin): Promise<void> {
    await this.asAdmin(actor, async ({ users, sessions, securityEvents }) => {
      const target = await users.findById(id);
      if (!target || !(await users.disable(id, this.now()))) throw new DomainError('user_not_found');
      await sessions.deleteAllOfUser(id);
      if (target.role === 'admin') await this.keepAnAdmin(users);
      await securityEvents.insert(auditEntry('account_disabled', id, origin, actor?.userId));
    });
  }

  async enable(actor: Actor, id: number, origin: RequestOrigin): Promise<void> {
    await this.asAdmin(actor, async ({ users, securityEvents }) => {
      if (!(await users.enable(id))) throw new DomainError('user_not_found');
      await securityEvents.insert(auditEntry('account_enabled', id, origin, actor?.userId));
    });
  }

  /** Erasure (erasure.ts), answered once it is done. */
  async delete(actor: Actor, id: number, origin: RequestOrigin): Promise<void> {
    await this.asAdmin(actor, async (repositories) => {
      if (!(await eraseAccount(repositories, id, origin, { actorId: actor?.userId }))) {
        throw new DomainError('user_not_found');
      }
    });
  }

  /** Returns how many sessions ended. */
  async endSessions(actor: Actor, id: number, origin: RequestOrigin): Promise<number> {
    return this.asAdmin(actor, async ({ users, sessions, securityEvents }) => {
      if (!(await users.findById(id))) throw new DomainError('user_not_found');
      const ended = await sessions.deleteAllOfUser(id);
      await securityEvents.insert(auditEntry('sessions_revoked', id, origin, actor?.userId));
      return ended;
    });
  }

  /**
   * For a user who lost the app and the codes: the factor, the codes and
   * pending logins go, and every session ends. The same for an account
   * without a factor.
   */
  async resetSecondFactor(actor: Actor, id: number, origin: RequestOrigin): Promise<void> {
    await this.asAdmin(actor, async (repositories) => {
      const { users, totpFactors, recoveryCodes, mfaChallenges, sessions, securityEvents, outbox } = repositories;
      const target = await users.findById(id);
      if (!target) throw new DomainError('user_not_found');
      const hadFactor = await totpFactors.delete(id);
      await recoveryCodes.deleteAllOfUser(id);
      await mfaChallenges.deleteAllOfUser(id);
      await sessions.deleteAllOfUser(id);
      await securityEvents.insert(auditEntry('second_factor_reset', id, origin, actor?.userId));
      if (hadFactor) await outbox.enqueue(secondFactorNotice(target.email, 'reset_by_admin'), this.now());
    });
  }

  private asAdmin<T>(actor: Actor, work: (repositories: Repositories) => Promise<T>): Promise<T> {
    return this.store.transaction(async (repositories) => {
      await repositories.users.lockAccounts();
      // The role was read when the token was checked; another admin may have demoted this one since.
      if (actor && (await repositories.users.findById(actor.userId))?.role !== 'admin') {
        throw new DomainError('forbidden');
      }
      return work(repositories);
    });
  }

  private async keepAnAdmin(users: Repositories['users']): Promise<void> {
    if ((await users.countAdmins()) === 0) throw new DomainError('last_admin');
  }
}
