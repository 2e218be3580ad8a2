// What the domain needs of the sessions table.
import type { Role, User } from '../model.js';

export interface SessionRow {
  id: string;
  user_id: number;
  expires_at: number; // Unix seconds, the token's exp
  address: string | null;
  user_agent: string | null;
  /** How its user proved who they are: RFC 8176 values, space-separated. */
  amr: string;
  authenticated_at: number; // Unix milliseconds
}

/** A session as its user sees it in their list. */
export interface SessionRecord {
  id: string;
  created_at: number; // Unix milliseconds
  expires_at: number; // Unix seconds
  address: string | null;
  user_agent: string | null;
  amr: string;
  authenticated_at: number; // Unix milliseconds
}

export interface ActiveSession {
  user_id: number;
  role: Role;
  /** SQLite answers 0 or 1. */
  email_verified: boolean | number;
  amr: string;
  /** PostgreSQL answers a bigint as a string. */
  authenticated_at: number | string;
}

/** An open session's user, end, and how and when its user last proved who they are. */
export interface OpenSession {
  user_id: number;
  expires_at: number; // Unix seconds
  amr: string;
  authenticated_at: number; // Unix milliseconds
}

/** An active session with another user's profile read in the same statement (undefined: no such user). */
export type SessionWithProfile = ActiveSession & { profile: User | undefined };

export interface SessionRepository {
  /** The session's user and end (Unix seconds), if it is open at `nowSeconds`. */
  findOpen(id: string, nowSeconds: number): Promise<OpenSession | undefined>;
  /** Records a new proof of its user (recent authentication), with the methods it now counts; false when it ended. */
  renewAuthentication(id: string, nowMs: number, amr: string): Promise<boolean>;
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
