// What the domain needs of the refresh tokens.

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
