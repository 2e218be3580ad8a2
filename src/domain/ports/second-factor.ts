// What the domain needs of the second factor's tables: authenticator apps,
// recovery codes and the logins waiting for a code.

export interface TotpFactorRow {
  user_id: number;
  /** Sealed (sealing.ts), bound to the user id. */
  secret: string;
  confirmed_at: number | null;
  last_used_step: number | null;
}

export interface TotpFactorRepository {
  find(userId: number): Promise<TotpFactorRow | undefined>;
  /** The factor only once it is confirmed: what logins, removal and renewal act on. */
  findConfirmed(userId: number): Promise<TotpFactorRow | undefined>;
  /** A new unconfirmed secret, replacing an unconfirmed one; false (nothing written) when one is confirmed. */
  startEnrollment(userId: number, sealedSecret: string, nowMs: number): Promise<boolean>;
  /**
   * Accepts `step` once: records it as the last used step only if no step at
   * or after it was used, in one statement. False when it was (a replay, or a
   * code racing another), or when there is no factor in the state asked for.
   */
  useStep(userId: number, step: number, state: 'confirmed' | 'unconfirmed'): Promise<boolean>;
  confirm(userId: number, nowMs: number): Promise<boolean>;
  /** Removes the factor, confirmed or not; false when there was none. */
  delete(userId: number): Promise<boolean>;
}

export interface RecoveryCodeRepository {
  /** Replaces all the user's codes with these hashes. */
  replace(userId: number, codeHashes: string[]): Promise<void>;
  /** Marks the code used, only if it is the user's and unused, in one statement. */
  use(userId: number, codeHash: string, nowMs: number): Promise<boolean>;
  countUnused(userId: number): Promise<number>;
  deleteAllOfUser(userId: number): Promise<void>;
}

export interface MfaChallengeRow {
  token_hash: string;
  user_id: number;
  credential_generation: number;
  /** The factors proven so far, space-separated RFC 8176 values. */
  amr: string;
  expires_at: number;
}

export interface MfaChallengeRepository {
  insert(challenge: MfaChallengeRow): Promise<void>;
  /**
   * Takes one of the challenge's `maxAttempts` code checks, in one
   * statement, and returns it; undefined when it is unknown, used, expired
   * or out of checks.
   */
  takeAttempt(tokenHash: string, nowMs: number, maxAttempts: number): Promise<MfaChallengeRow | undefined>;
  /** Marks it used, only if it was unused and unexpired, in one statement. */
  consume(tokenHash: string, nowMs: number): Promise<boolean>;
  deleteExpired(nowMs: number): Promise<number>;
  deleteAllOfUser(userId: number): Promise<void>;
}
