// What the domain needs from storage. src/storage implements these; the domain
// never imports Knex.
import type { AccountRecord, AdminUserRecord, ProfileChanges, Role, User, UserSummary } from './model.js';

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

export interface SessionRow {
  id: string;
  user_id: number;
  expires_at: number; // Unix seconds, the token's exp
  address: string | null;
  user_agent: string | null;
}

/** A session as its user sees it in their list. */
export interface SessionRecord {
  id: string;
  created_at: number; // Unix milliseconds
  expires_at: number; // Unix seconds
  address: string | null;
  user_agent: string | null;
}

/** What erasing an account leaves the caller to clean up after it. */
export interface ErasedAccount {
  email: string;
  role: Role;
}

export interface ActiveSession {
  user_id: number;
  role: Role;
  /** SQLite answers 0 or 1. */
  email_verified: boolean | number;
}

/** An active session with another user's profile read in the same statement (undefined: no such user). */
export type SessionWithProfile = ActiveSession & { profile: User | undefined };

export interface SessionRepository {
  /** The session's user and end (Unix seconds), if it is open at `nowSeconds`. */
  findOpen(id: string, nowSeconds: number): Promise<{ user_id: number; expires_at: number } | undefined>;
  /**
   * Inserts the session, in one step, only while its user's credential
   * generation is still `generation`: false when the password changed (or the
   * user went) after the login read it.
   */
  insert(session: SessionRow, generation: number): Promise<boolean>;
  /** The session with its user's current role, if it is open and unexpired at `nowSeconds`. */
  findActive(id: string, nowSeconds: number): Promise<ActiveSession | undefined>;
  /** The same, with the profile of user `profileId` (undefined when there is none) read in the same statement. */
  findActiveWithProfile(id: string, nowSeconds: number, profileId: number): Promise<SessionWithProfile | undefined>;
  /** The user's open sessions, newest first. */
  listOfUser(userId: number, nowSeconds: number, limit: number): Promise<SessionRecord[]>;
  /** Returns false when there was no such session. */
  delete(id: string): Promise<boolean>;
  /** Deletes the session only if it is the user's; false otherwise. */
  deleteOfUser(id: string, userId: number): Promise<boolean>;
  /** Returns how many sessions ended. */
  deleteOthersOfUser(userId: number, keepSessionId: string): Promise<number>;
  /** Returns how many sessions ended. */
  deleteAllOfUser(userId: number): Promise<number>;
  deleteExpired(nowSeconds: number): Promise<number>;
  countActive(nowSeconds: number): Promise<number>;
}

/** One place asked for in a sliding-window limit. */
export interface LimitClaim {
  bucket: string;
  key: string;
  limit: number;
  windowMs: number;
  /** Never given back: its event is left out of the reservation's ids. */
  forGood?: boolean;
}

export type Reservation =
  | { granted: true; eventIds: number[]; /** this place was the last one of some limit */ filledALimit: boolean }
  | { granted: false; retryAfterMs: number };

export interface RateLimitRepository {
  /**
   * In one atomic step that every process on the database shares: records one
   * event for each claim, unless some claim's key already holds its limit of
   * events within the window; then records nothing and says when a place
   * frees up.
   */
  reserve(claims: LimitClaim[], nowMs: number): Promise<Reservation>;
  /** Gives places back (the events of a reservation). */
  release(eventIds: number[]): Promise<void>;
  deleteKey(bucket: string, key: string): Promise<void>;
  /** Deletes every event whose key is this email, or starts with it and a space (the email-and-address keys). */
  deleteKeysOfEmail(email: string): Promise<void>;
  deleteOlderThan(atMs: number): Promise<number>;
}

/** The kinds of audit events; the spec's SecurityEventType lists the same (a test compares them). */
export const SECURITY_EVENT_TYPES = [
  'registration',
  'privileged_account_created',
  'login_success',
  'login_failure',
  'lockout',
  'logout',
  'password_change',
  'password_reset',
  'password_reset_requested',
  'sessions_revoked',
  'email_verification_sent',
  'email_verified',
  'email_changed',
  'login_refused_unverified',
  'session_ended',
  'account_deleted',
  'role_changed',
  'account_disabled',
  'account_enabled',
  'login_refused_disabled',
  'refresh_token_reused',
  'signing_key_added',
  'signing_key_retired',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export interface SecurityEvent {
  type: SecurityEventType;
  user_id: number | null;
  actor_id?: number | null;
  address: string | null;
  request_id: string | null;
}

/** An audit event as admins read it; `occurred_at` in Unix milliseconds. */
export interface SecurityEventRecord extends Required<SecurityEvent> {
  id: number;
  occurred_at: number;
}

export interface SecurityEventRepository {
  insert(event: SecurityEvent): Promise<void>;
  /** Newest first, optionally of one account and one kind, with how many match. */
  list(
    filter: { userId?: number; type?: SecurityEventType },
    offset: number,
    limit: number,
  ): Promise<{ events: SecurityEventRecord[]; total: number }>;
  /** Removes the client addresses from the events of an account and of its acts: they keep only ids and kinds. */
  forgetAddressesOf(userId: number): Promise<void>;
  /** Deletes the events that happened before `atMs`; says how many. */
  deleteOlderThan(atMs: number): Promise<number>;
}

/** A message to send: a plain-text and an HTML part. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface QueuedMail extends OutgoingMail {
  id: number;
  createdAt: number;
  /** Delivery attempts so far, this one included once claimed. */
  attempts: number;
  sentAt: number | null;
  lastError: string | null;
}

/**
 * A sender's claim on a message: every claim counts an attempt, so once a
 * lease has run out and another sender has claimed the message, the first
 * sender's claim no longer matches.
 */
export type OutboxClaim = Pick<QueuedMail, 'id' | 'attempts'>;

export interface OutboxRepository {
  /** Queues a message; inside a transaction, it exists only if the transaction commits. */
  enqueue(mail: OutgoingMail, nowMs: number): Promise<number>;
  /**
   * Claims up to `limit` unsent messages that are due, in one atomic step
   * (on PostgreSQL with FOR UPDATE SKIP LOCKED), for `leaseMs`: no other
   * sender takes them meanwhile. A sender that dies leaves them to be
   * claimed again when the lease runs out.
   */
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<QueuedMail[]>;
  /** Marks the message sent, if the claim is still the latest one; says whether it was. */
  markSent(claim: OutboxClaim, nowMs: number): Promise<boolean>;
  /** Gives the claim back, to be tried again from `nextAttemptAt`, if it is still the latest one. */
  markFailed(claim: OutboxClaim, nextAttemptAt: number, error: string): Promise<boolean>;
  /** Deletes every message to this address, sent or not. */
  deleteTo(recipient: string): Promise<void>;
  /** Deletes the messages queued before `atMs`, sent or not; says how many. */
  deleteCreatedBefore(atMs: number): Promise<number>;
  /** The newest messages first, for operators. */
  list(limit: number): Promise<QueuedMail[]>;
  find(id: number): Promise<QueuedMail | undefined>;
}

export interface OneTimeTokenRow {
  user_id: number;
  /** The address the link was mailed to: the token is good only while the account has it. */
  email: string;
  /** SHA-256 of the token, hex: the token table never holds the token itself. */
  token_hash: string;
  expires_at: number;
  created_at: number;
}

/** Single-use tokens sent by mail, one table per kind (reset, verification). */
export interface OneTimeTokenRepository {
  insert(token: OneTimeTokenRow): Promise<void>;
  /** The unused, unexpired token with this hash. */
  findUsable(tokenHash: string, nowMs: number): Promise<{ id: number; user_id: number; email: string } | undefined>;
  /** Marks the token used, in one step, only if it still is usable: false when another request used it first. */
  consume(id: number, nowMs: number): Promise<boolean>;
  deleteAllOfUser(userId: number): Promise<void>;
}

/** A key access tokens are signed with; see migration 012. Times in Unix milliseconds. */
export interface SigningKeyRow {
  kid: string;
  algorithm: 'ES256';
  /** The public key as a JWK, JSON. */
  public_jwk: string;
  /** The private key, encrypted with SIGNING_KEYS_SECRET (signing-keys.ts). */
  private_key: string;
  created_at: number;
  /** When it signs from; for a standby key, the earliest moment it may. */
  signs_from: number;
  retired_at: number | null;
  /** Published, but signs only once scheduled (a rotation, or the signing key's retirement). */
  standby: boolean;
}

export interface SigningKeyRepository {
  /** Every key, oldest first. */
  list(): Promise<SigningKeyRow[]>;
  /** Holds the keys' lock until the transaction ends: key changes take turns. */
  lock(): Promise<void>;
  insert(key: SigningKeyRow): Promise<void>;
  /** Makes a live key (a standby, or one not yet signing) sign from `signsFrom`. */
  schedule(kid: string, signsFrom: number): Promise<void>;
  /** Retires the key unless it already is; false when there is no such live key. */
  retire(kid: string, nowMs: number): Promise<boolean>;
}

export interface RefreshTokenRow {
  /** SHA-256 of the token, hex: the table never holds the token itself. */
  token_hash: string;
  session_id: string;
  created_at: number;
}

export interface UsedRefreshToken {
  session_id: string;
  used_at: number;
  used_address: string | null;
  used_user_agent: string | null;
}

export interface RefreshTokenRepository {
  insert(token: RefreshTokenRow): Promise<void>;
  /**
   * Marks the token used by this client, in one step, only if it was unused:
   * its session, or undefined when it is unknown or was used before.
   */
  use(tokenHash: string, nowMs: number, by: { address: string; userAgent: string | null }): Promise<string | undefined>;
  /** The token, if it exists and was used. */
  findUsed(tokenHash: string): Promise<UsedRefreshToken | undefined>;
  /** Deletes the tokens of sessions that are gone; returns how many. */
  deleteOrphaned(): Promise<number>;
}

export interface Repositories {
  users: UserRepository;
  sessions: SessionRepository;
  rateLimits: RateLimitRepository;
  securityEvents: SecurityEventRepository;
  outbox: OutboxRepository;
  resetTokens: OneTimeTokenRepository;
  verificationTokens: OneTimeTokenRepository;
  signingKeys: SigningKeyRepository;
  refreshTokens: RefreshTokenRepository;
}

/** Repositories, plus a way to run several writes as one transaction. */
export interface Store extends Repositories {
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
}
