// What the domain needs of the sliding-window limits.

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
