// What the domain needs from storage. src/storage implements these; the domain
// never imports Knex.
import type { ProfileChanges, Role, User, UserSummary } from './model.js';

export interface NewUserRow {
  email: string;
  user_name: string;
  first_name: string;
  last_name: string;
  role: Role;
  password_hash: string;
}

export interface Credentials {
  id: number;
  password_hash: string;
}

export interface UserRepository {
  /** Inserts a user and returns its id; a taken email or user_name throws DomainError('conflict'). */
  insert(row: NewUserRow): Promise<number>;
  findById(id: number): Promise<User | undefined>;
  findCredentialsByEmail(email: string): Promise<Credentials | undefined>;
  findCredentialsById(id: number): Promise<Credentials | undefined>;
  /** Returns false when no user has this id; a taken email or user_name throws DomainError('conflict'). */
  update(id: number, changes: ProfileChanges): Promise<boolean>;
  setPasswordHash(id: number, passwordHash: string): Promise<void>;
  /** Users ordered by id, starting after the given offset. */
  page(offset: number, limit: number): Promise<UserSummary[]>;
  count(): Promise<number>;
}

export interface SessionRow {
  id: string;
  user_id: number;
  expires_at: number; // Unix seconds, the token's exp
}

export interface ActiveSession {
  user_id: number;
  role: Role;
}

export interface SessionRepository {
  insert(session: SessionRow): Promise<void>;
  /** The session with its user's current role, if it is open and unexpired at `nowSeconds`. */
  findActive(id: string, nowSeconds: number): Promise<ActiveSession | undefined>;
  /** Returns false when there was no such session. */
  delete(id: string): Promise<boolean>;
  deleteOthersOfUser(userId: number, keepSessionId: string): Promise<void>;
  /** Returns how many sessions ended. */
  deleteAllOfUser(userId: number): Promise<number>;
  deleteExpired(nowSeconds: number): Promise<number>;
  countActive(nowSeconds: number): Promise<number>;
}

export interface RateLimitRepository {
  /** How many events the bucket holds for the key since `sinceMs`, and when the oldest of them happened. */
  countSince(bucket: string, key: string, sinceMs: number): Promise<{ count: number; oldestMs: number | undefined }>;
  insert(bucket: string, key: string, atMs: number): Promise<void>;
  deleteKey(bucket: string, key: string): Promise<void>;
  deleteOlderThan(atMs: number): Promise<number>;
}

export type SecurityEventType =
  | 'registration'
  | 'privileged_account_created'
  | 'login_success'
  | 'login_failure'
  | 'lockout'
  | 'logout'
  | 'password_change'
  | 'password_reset'
  | 'sessions_revoked';

export interface SecurityEvent {
  type: SecurityEventType;
  user_id: number | null;
  actor_id?: number | null;
  address: string | null;
  request_id: string | null;
}

export interface SecurityEventRepository {
  insert(event: SecurityEvent): Promise<void>;
}

export interface Repositories {
  users: UserRepository;
  sessions: SessionRepository;
  rateLimits: RateLimitRepository;
  securityEvents: SecurityEventRepository;
}

/** Repositories, plus a way to run several writes as one transaction. */
export interface Store extends Repositories {
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
}
