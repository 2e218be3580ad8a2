// Logging in and out, and turning a bearer token into a Principal. Every token
// is one row in the sessions table: a token is accepted only while its row
// exists, so logout and password changes take effect at once, everywhere.
import { randomUUID } from 'node:crypto';
import { DomainError } from './errors.js';
import type { IssuedToken, Principal } from './model.js';
import { canonicalEmail } from './normalize.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionRepository, Store } from './ports.js';
import type { TokenSigner } from './tokens.js';

export class SessionService {
  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly signer: TokenSigner,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session for the user through the given repository (so it can join a transaction). */
  async open(sessions: SessionRepository, userId: number): Promise<IssuedToken> {
    const sessionId = randomUUID();
    const expiresAtSeconds = this.nowSeconds() + this.ttlSeconds;
    await sessions.insert({ id: sessionId, user_id: userId, expires_at: expiresAtSeconds });
    return {
      token: this.signer.sign({ userId, sessionId }, expiresAtSeconds),
      expiresAt: new Date(expiresAtSeconds * 1000),
    };
  }

  async login(email: string, password: string): Promise<IssuedToken> {
    const credentials = await this.store.users.findCredentialsByEmail(canonicalEmail(email));
    if (!credentials) {
      await this.hasher.verifyAgainstNothing(password);
      throw new DomainError('invalid_credentials');
    }
    if (!(await this.hasher.verify(credentials.password_hash, password))) {
      throw new DomainError('invalid_credentials');
    }
    const upgradedHash = this.hasher.needsRehash(credentials.password_hash)
      ? await this.hasher.hash(password)
      : undefined;
    return this.store.transaction(async ({ users, sessions }) => {
      if (upgradedHash) await users.setPasswordHash(credentials.id, upgradedHash);
      return this.open(sessions, credentials.id);
    });
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const claims = this.signer.verify(token);
    if (!claims) return undefined;
    const session = await this.store.sessions.findActive(claims.sessionId, this.nowSeconds());
    if (!session || session.user_id !== claims.userId) return undefined;
    return { userId: session.user_id, role: session.role, sessionId: claims.sessionId };
  }

  /** Ends the principal's session; false if it had already ended (a concurrent logout). */
  logout(principal: Principal): Promise<boolean> {
    return this.store.sessions.delete(principal.sessionId);
  }

  pruneExpired(): Promise<number> {
    return this.store.sessions.deleteExpired(this.nowSeconds());
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
