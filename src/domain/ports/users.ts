// What the domain needs of the users table.
import type { AccountRecord, AdminUserRecord, ProfileChanges, Role, User, UserSummary } from '../model.js';

export interface NewUserRow {
  email: string;
  user_name: string;
  first_name: string;
  last_name: string;
  role: Role;
  password_hash: string;
  /** Set for accounts an operator makes: their email is trusted as given. */
  email_verified_at?: number;
}

export interface Credentials {
  id: number;
  email: string;
  email_verified_at: number | null;
  /** Set while an admin has disabled the account. */
  disabled_at: number | null;
  password_hash: string;
  /** Changes with every new password (or reset): sessions are only opened from the current one. */
  credential_generation: number;
}

export interface UserRepository {
  /** Inserts a user and returns its id; a taken email or user_name throws DomainError('conflict'). */
  insert(row: NewUserRow): Promise<number>;
  findById(id: number): Promise<User | undefined>;
  /** The profile with its verification and password times (milliseconds). */
  findAccount(id: number): Promise<AccountRecord | undefined>;
  findCredentialsByEmail(email: string): Promise<Credentials | undefined>;
  findCredentialsById(id: number): Promise<Credentials | undefined>;
  /**
   * Returns false when no user has this id; a taken email or user_name
   * throws DomainError('conflict'). A different email is unverified, in the
   * same statement.
   */
  update(id: number, changes: ProfileChanges): Promise<boolean>;
  /** Marks the email verified, in one step, only while the account still has `email`; false otherwise. */
  markEmailVerified(id: number, email: string, nowMs: number): Promise<boolean>;
  /**
   * Replaces the password hash, in one step, only while the credential
   * generation is still `generation`; false when it has moved on (another
   * change came first). A new password starts a new generation; a rehash of
   * the same password (`sameCredential`) keeps it.
   */
  replacePasswordHash(
    id: number,
    passwordHash: string,
    change: { generation: number; sameCredential?: boolean },
  ): Promise<boolean>;
  /**
   * Deletes the account in the caller's transaction, only while its
   * credential generation is `generation` (any, if undefined): its row, and
   * with it its sessions and pending links; later users move up a position
   * and the count drops, so the listing stays dense. Takes the users counter
   * first, so erasures and inserts take turns. Undefined: no such account
   * (or its password changed).
   */
  erase(id: number, generation?: number): Promise<ErasedAccount | undefined>;
  /** Enabled admins. */
  countAdmins(): Promise<number>;
  /**
   * Takes the users counter in the caller's transaction, as inserts and
   * erasures do: changes that must see every admin (the last one stays) take turns.
   */
  lockAccounts(): Promise<void>;
  /** False when no user has this id. */
  setRole(id: number, role: Role): Promise<boolean>;
  /**
   * Disables the account and moves its credential generation on, so no login
   * in flight opens a session; a disabled one stays as it was. False when no
   * user has this id.
   */
  disable(id: number, nowMs: number): Promise<boolean>;
  /** False when no user has this id. */
  enable(id: number): Promise<boolean>;
  /**
   * Users whose email or user-name key is `text` (exact) or starts with it
   * (prefix), ordered by id, with how many match. `text` is lower-case.
   */
  search(
    text: string,
    match: 'exact' | 'prefix',
    offset: number,
    limit: number,
  ): Promise<{ users: AdminUserRecord[]; total: number }>;
  /** Users ordered by id, starting after the given offset. */
  page(offset: number, limit: number): Promise<UserSummary[]>;
  count(): Promise<number>;
}

/** What erasing an account leaves the caller to clean up after it. */
export interface ErasedAccount {
  email: string;
  role: Role;
}
