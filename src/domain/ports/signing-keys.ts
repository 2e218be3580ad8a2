// What the domain needs of the token signing keys.

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
