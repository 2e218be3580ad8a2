// What the domain needs of the single-use tokens sent by mail.

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
