// Registration, profiles, password changes and the listing.
import { DomainError } from './errors.js';
import { eraseAccount } from './erasure.js';
import { emailChangedNotice } from './messages.js';
import type {
  AccountRecord,
  IssuedToken,
  NewUser,
  Principal,
  ProfileChanges,
  RequestOrigin,
  Role,
  User,
  UserSummary,
} from './model.js';
import { checkMailableEmail } from './email-policy.js';
import { canonicalEmail } from './normalize.js';
import type { HashingTurn, PasswordHasher } from './passwords.js';
import { replaceCredential } from './credentials.js';
import { checkNewPassword } from './password-policy.js';
import { mayAssignRole, mayUpdateOthers, mayUpdateProfile } from './permissions.js';
import type { Repositories, Store } from './ports.js';
import { withPlaces, type RateLimitSettings } from './rate-limits.js';
import { auditEntry } from './audit.js';
import type { SessionService } from './sessions.js';
import type { EmailRevert } from './email-revert.js';
import type { RecentAuthentication } from './recent-authentication.js';
import type { EmailVerification } from './verification.js';

export type BootstrapOutcome = 'created' | 'exists' | 'email_taken_by_non_admin' | 'user_name_taken';

export interface UserPage {
  users: UserSummary[];
  total: number;
}

export class UserService {
  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionService,
    private readonly verification: EmailVerification,
    private readonly limits: Pick<RateLimitSettings, 'registrationsPerAddress' | 'passwordChangeFailuresPerUser'>,
    /** An email change needs the actor's recent authentication, and tells the old address how to undo it. */
    private readonly emailChange: { recent: RecentAuthentication; revert: EmailRevert },
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Creates the account and its first session, and sends a link to verify
   * the email unless the address has had its hour's share of mail. `actor`
   * is the caller, if they sent a token. Each attempt takes a place in the
   * per-address limit before the password is hashed, and keeps it whether it
   * creates an account or finds the email or user name taken; its place in
   * the address's mail cap is given back unless the account is created.
   * The attempt takes its turn in the hashing before those places.
   */
  async register(input: NewUser, actor: Principal | undefined, origin: RequestOrigin): Promise<IssuedToken> {
    checkMailableEmail(input.email);
    checkNewPassword(input.password);
    const role = input.role ?? 'user';
    if (!mayAssignRole(actor, role)) throw new DomainError('forbidden');
    const turn = this.hasher.takeTurn(origin.address);
    try {
      return await withPlaces(
        this.store.rateLimits,
        [[this.limits.registrationsPerAddress, origin.address]],
        this.now(),
        () =>
          this.verification.withMailPlaces([input.email], undefined, (mayMail) =>
            this.insertAccount(
              { ...input, role },
              origin,
              { actorId: actor?.userId, turn },
              async (repositories, id, email) => {
                if (mayMail) await this.verification.sendLink(repositories, id, email, origin);
                return this.sessions.open(repositories, id, 0, origin);
              },
            ),
          ),
        (error) => error === undefined || (error instanceof DomainError && error.kind === 'conflict'),
      );
    } finally {
      turn.leave();
    }
  }

  /**
   * Creates the first admin unless the email is taken; never overwrites an
   * account. Safe when instances race: the database settles who creates it.
   * The operator's word for the email is taken, also for an admin made
   * before verification existed.
   */
  async ensureAdmin(admin: Omit<NewUser, 'role'>, origin: RequestOrigin): Promise<BootstrapOutcome> {
    const email = canonicalEmail(admin.email);
    const existing = await this.existingAccountRole(email);
    if (existing === 'admin') await this.verifyEmailAsOperator(email, origin);
    if (existing) return existing === 'admin' ? 'exists' : 'email_taken_by_non_admin';
    try {
      await this.createAccount({ ...admin, role: 'admin' }, origin);
      return 'created';
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === 'conflict')) throw error;
      const raced = await this.existingAccountRole(email);
      if (!raced) return 'user_name_taken';
      return raced === 'admin' ? 'exists' : 'email_taken_by_non_admin';
    }
  }

  /**
   * Creates an account with any role, without a session: for operators (the
   * CLI, the bootstrap admin), who act outside the API's permission rules and
   * whose word for the email is taken (it starts verified). Returns the new
   * id; a taken email or user name throws DomainError('conflict').
   */
  async createAccount(input: NewUser, origin: RequestOrigin): Promise<number> {
    checkNewPassword(input.password);
    const account = { ...input, role: input.role ?? 'user' };
    return this.insertAccount(account, origin, { emailTrusted: true }, async (_, id) => id);
  }

  /**
   * The one way an account is made: hash (in `turn`, or in a turn of its
   * own), insert, audit, then `andThen` in the same transaction.
   */
  private async insertAccount<T>(
    input: NewUser & { role: Role },
    origin: RequestOrigin,
    { actorId, emailTrusted = false, turn }: { actorId?: number; emailTrusted?: boolean; turn?: HashingTurn },
    andThen: (repositories: Repositories, id: number, email: string) => Promise<T>,
  ): Promise<T> {
    const { password, ...profile } = input;
    const email = canonicalEmail(profile.email);
    const password_hash = await (turn ? turn.hash(password) : this.hasher.hash(password, origin.address));
    return this.store.transaction(async (repositories) => {
      const verified = emailTrusted ? { email_verified_at: this.now() } : {};
      const id = await repositories.users.insert({ ...profile, email, password_hash, ...verified });
      const type = input.role === 'user' ? 'registration' : 'privileged_account_created';
      await repositories.securityEvents.insert(auditEntry(type, id, origin, actorId));
      return andThen(repositories, id, email);
    });
  }

  /**
   * Sets a new password without the old one and ends every session
   * (operators). A new credential generation: no login in flight can open a
   * session with the old password. False: no such email.
   */
  async resetPassword(email: string, newPassword: string, origin: RequestOrigin): Promise<boolean> {
    checkNewPassword(newPassword);
    for (;;) {
      const credentials = await this.store.users.findCredentialsByEmail(canonicalEmail(email));
      if (!credentials) return false;
      const password_hash = await this.hasher.hash(newPassword, origin.address);
      const replaced = await this.store.transaction(async (repositories) => {
        const generation = credentials.credential_generation;
        if (!(await replaceCredential(repositories, credentials.id, password_hash, { generation }))) return false;
        await repositories.securityEvents.insert(auditEntry('password_reset', credentials.id, origin));
        return true;
      });
      if (replaced) return true; // else another change came first: reset over it
    }
  }

  /** Marks the account's email verified on an operator's word. False: no such email. */
  async verifyEmailAsOperator(email: string, origin: RequestOrigin): Promise<boolean> {
    const credentials = await this.store.users.findCredentialsByEmail(canonicalEmail(email));
    if (!credentials) return false;
    if (credentials.email_verified_at !== null) return true;
    return this.store.transaction(async ({ users, verificationTokens, securityEvents }) => {
      if (!(await users.markEmailVerified(credentials.id, credentials.email, this.now()))) return false;
      await verificationTokens.deleteAllOfUser(credentials.id);
      await securityEvents.insert(auditEntry('email_verified', credentials.id, origin));
      return true;
    });
  }

  private async existingAccountRole(email: string): Promise<Role | undefined> {
    const credentials = await this.store.users.findCredentialsByEmail(email);
    return credentials && (await this.store.users.findById(credentials.id))?.role;
  }

  /** A profile; from the principal when it was read with the session, else from the database. */
  async getProfile(id: number, principal?: Principal): Promise<User> {
    const user =
      principal?.readAlong?.userId === id ? principal.readAlong.profile : await this.store.users.findById(id);
    if (!user) throw new DomainError('user_not_found');
    return user;
  }

  /** The signed-in user's own view of their account. */
  async getAccount(principal: Principal): Promise<AccountRecord> {
    const account = await this.store.users.findAccount(principal.userId);
    if (!account) throw new DomainError('session_ended');
    return account;
  }

  /**
   * An email change, in one transaction: the new address is unverified and
   * gets a link, the old one a notice (both within the account's hourly
   * mail limit and each address's cap; past any, the change still applies,
   * silently), and pending reset and verification links end; a user
   * changing their own email also ends their other sessions. A change that
   * fails (the email is taken) gives its mail places back.
   */
  async updateProfile(actor: Principal, id: number, changes: ProfileChanges, origin: RequestOrigin): Promise<void> {
    if (changes.email !== undefined) checkMailableEmail(changes.email);
    // A plain user learns nothing about other ids: 403 before looking them up.
    if (actor.userId !== id && !mayUpdateOthers(actor)) throw new DomainError('forbidden');
    const target = await this.getProfile(id);
    if (!mayUpdateProfile(actor, target, changes)) throw new DomainError('forbidden');
    const canonical = changes.email === undefined ? changes : { ...changes, email: canonicalEmail(changes.email) };
    if (canonical.email === undefined || canonical.email === target.email) {
      // One statement needs no transaction (BEGIN and COMMIT cost the common
      // update about 40% more CPU on SQLite's asynchronous driver).
      if (!(await this.store.users.update(id, canonical))) throw new DomainError('user_not_found');
      return;
    }
    // A stolen token alone must not move the account to another address.
    if (!this.emailChange.recent.isRecent(actor)) throw new DomainError('reauthentication_required');
    const newEmail = canonical.email;
    await this.verification.withMailPlaces([newEmail, target.email], id, (mayMail) =>
      this.store.transaction(async (repositories) => {
        if (!(await repositories.users.update(id, canonical))) throw new DomainError('user_not_found');
        await repositories.resetTokens.deleteAllOfUser(id);
        await repositories.verificationTokens.deleteAllOfUser(id);
        if (actor.userId === id) await repositories.sessions.deleteOthersOfUser(id, actor.sessionId);
        if (mayMail) {
          await this.verification.sendLink(repositories, id, newEmail, origin);
          const revertLink = await this.emailChange.revert.linkFor(repositories, id, target.email);
          const notice = emailChangedNotice(target.email, revertLink, this.emailChange.revert.tokenTtlSeconds);
          await repositories.outbox.enqueue(notice, this.now());
        }
        await repositories.securityEvents.insert(
          auditEntry('email_changed', id, origin, actor.userId === id ? undefined : actor.userId),
        );
      }),
    );
  }

  /**
   * Only the user themself, with the existing password; ends their other
   * sessions. Each try takes a place in the per-account limit of wrong
   * existing passwords before the check (a stolen token must not allow
   * unlimited guessing); a right one gives it back. Login is not affected.
   * The try takes its turn in the hashing before that place.
   */
  async changePassword(
    actor: Principal,
    id: number,
    passwords: { existing: string; new: string },
    origin: RequestOrigin,
  ): Promise<void> {
    checkNewPassword(passwords.new);
    if (actor.userId !== id) throw new DomainError('forbidden');
    const turn = this.hasher.takeTurn(origin.address);
    try {
      await withPlaces(
        this.store.rateLimits,
        [[this.limits.passwordChangeFailuresPerUser, String(id)]],
        this.now(),
        async () => {
          const credentials = await this.store.users.findCredentialsById(id);
          if (!credentials) throw new DomainError('session_ended');
          if (!(await turn.verify(credentials.password_hash, passwords.existing)).matches) {
            throw new DomainError('wrong_existing_password');
          }
          const password_hash = await turn.hash(passwords.new);
          await this.store.transaction(async (repositories) => {
            const change = { generation: credentials.credential_generation, keepSessionId: actor.sessionId };
            // Another change came first: the existing password sent is no longer the current one.
            if (!(await replaceCredential(repositories, id, password_hash, change))) {
              throw new DomainError('wrong_existing_password');
            }
            await repositories.securityEvents.insert(auditEntry('password_change', id, origin));
          });
        },
        (error) => error instanceof DomainError && error.kind === 'wrong_existing_password',
      );
    } finally {
      turn.leave();
    }
  }

  /**
   * Deletes the signed-in user's account once they give its password again.
   * Wrong passwords take places in the per-account limit of password
   * changes (a stolen token must not allow unlimited guessing); the try
   * takes its turn in the hashing before its place.
   */
  async closeAccount(actor: Principal, password: string, origin: RequestOrigin): Promise<void> {
    const turn = this.hasher.takeTurn(origin.address);
    try {
      await withPlaces(
        this.store.rateLimits,
        [[this.limits.passwordChangeFailuresPerUser, String(actor.userId)]],
        this.now(),
        async () => {
          const credentials = await this.store.users.findCredentialsById(actor.userId);
          if (!credentials) throw new DomainError('session_ended');
          if (!(await turn.verify(credentials.password_hash, password)).matches) {
            throw new DomainError('wrong_password');
          }
          const generation = credentials.credential_generation;
          await this.store.transaction(async (repositories) => {
            if (!(await eraseAccount(repositories, actor.userId, origin, { generation }))) {
              // Gone already (a parallel close), or its password changed since it was checked.
              const stillThere = await repositories.users.findCredentialsById(actor.userId);
              throw new DomainError(stillThere ? 'wrong_password' : 'session_ended');
            }
          });
        },
        (error) => error instanceof DomainError && error.kind === 'wrong_password',
      );
    } finally {
      turn.leave();
    }
  }

  async list(page: number, perPage: number): Promise<UserPage> {
    const users = await this.store.users.page((page - 1) * perPage, perPage);
    const total = await this.store.users.count();
    return { users, total };
  }
}
