// Logging in and out, and turning a bearer token into a Principal. Every token
// is one row in the sessions table: a token is accepted only while its row
// exists, so logout and password changes take effect at once, everywhere.
import { randomUUID } from 'node:crypto';
import { DomainError } from './errors.js';
import type { IssuedToken, Principal, RequestOrigin } from './model.js';
import { canonicalEmail } from './normalize.js';
import type { PasswordHasher } from './passwords.js';
import { auditEntry } from './audit.js';
import type { SessionRepository, Store } from './ports.js';
import { countEvent, longestWindowSeconds, refuseIfLimited, type RateLimitSettings } from './rate-limits.js';
import type { TokenSigner } from './tokens.js';

export interface SessionSettings {
  ttlSeconds: number;
  limits: RateLimitSettings;
  now?: () => number;
}

export class SessionService {
  private readonly ttlSeconds: number;
  private readonly limits: RateLimitSettings;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly signer: TokenSigner,
    settings: SessionSettings,
  ) {
    this.ttlSeconds = settings.ttlSeconds;
    this.limits = settings.limits;
    this.now = settings.now ?? Date.now;
  }

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

  /**
   * Failed logins are counted per email (whether or not an account has it, so
   * the limit reveals nothing) and per client address; past either limit the
   * answer is RateLimited until the window passes. A success clears the
   * email's count.
   */
  async login(email: string, password: string, origin: RequestOrigin): Promise<IssuedToken> {
    const emailKey = canonicalEmail(email);
    const { loginFailuresPerEmail, loginFailuresPerAddress } = this.limits;
    await refuseIfLimited(
      this.store.rateLimits,
      [
        [loginFailuresPerEmail, emailKey],
        [loginFailuresPerAddress, origin.address],
      ],
      this.now(),
    );
    const credentials = await this.store.users.findCredentialsByEmail(emailKey);
    const valid = credentials
      ? await this.hasher.verify(credentials.password_hash, password)
      : await this.hasher.verifyAgainstNothing(password).then(() => false);
    if (!credentials || !valid) {
      await this.recordFailedLogin(emailKey, credentials?.id ?? null, origin);
      throw new DomainError('invalid_credentials');
    }
    const upgradedHash = this.hasher.needsRehash(credentials.password_hash)
      ? await this.hasher.hash(password)
      : undefined;
    return this.store.transaction(async ({ users, sessions, rateLimits, securityEvents }) => {
      if (upgradedHash) await users.setPasswordHash(credentials.id, upgradedHash);
      await rateLimits.deleteKey(loginFailuresPerEmail.bucket, emailKey);
      await securityEvents.insert(auditEntry('login_success', credentials.id, origin));
      return this.open(sessions, credentials.id);
    });
  }

  private async recordFailedLogin(emailKey: string, userId: number | null, origin: RequestOrigin): Promise<void> {
    const now = this.now();
    await this.store.transaction(async ({ rateLimits, securityEvents }) => {
      await securityEvents.insert(auditEntry('login_failure', userId, origin));
      const emailLocked = await countEvent(rateLimits, this.limits.loginFailuresPerEmail, emailKey, now);
      const addressLocked = await countEvent(rateLimits, this.limits.loginFailuresPerAddress, origin.address, now);
      if (emailLocked || addressLocked) await securityEvents.insert(auditEntry('lockout', userId, origin));
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
  logout(principal: Principal, origin: RequestOrigin): Promise<boolean> {
    return this.store.transaction(async ({ sessions, securityEvents }) => {
      const ended = await sessions.delete(principal.sessionId);
      if (ended) await securityEvents.insert(auditEntry('logout', principal.userId, origin));
      return ended;
    });
  }

  countActive(): Promise<number> {
    return this.store.sessions.countActive(this.nowSeconds());
  }

  /** Deletes expired sessions and rate-limit events older than any window. */
  async pruneExpired(): Promise<number> {
    await this.store.rateLimits.deleteOlderThan(this.now() - longestWindowSeconds(this.limits) * 1000);
    return this.store.sessions.deleteExpired(this.nowSeconds());
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
