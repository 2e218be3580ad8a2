// Logging in and out, and turning a bearer token into a Principal. Every token
// is one row in the sessions table: a token is accepted only while its row
// exists, so logout and password changes take effect at once, everywhere.
import { randomUUID } from 'node:crypto';
import { DomainError } from './errors.js';
import type { IssuedToken, Principal, RequestOrigin } from './model.js';
import type { SessionRecord } from './ports.js';
import { canonicalEmail } from './normalize.js';
import type { PasswordHasher } from './passwords.js';
import { auditEntry } from './audit.js';
import type { SessionRepository, Store } from './ports.js';
import {
  emailAndAddressKey,
  longestWindowSeconds,
  withPlaces,
  type RateLimitRule,
  type RateLimitSettings,
} from './rate-limits.js';
import type { TokenSigner } from './tokens.js';
import type { EmailVerification } from './verification.js';

const MAX_LISTED_SESSIONS = 100; // the spec's SessionList maxItems

export interface SessionSettings {
  ttlSeconds: number;
  limits: RateLimitSettings;
  /**
   * Set when REQUIRE_VERIFIED_EMAIL is on: an account whose email is not
   * verified is refused a session, and sent a new link through this.
   */
  refuseUnverifiedWith?: EmailVerification;
  now?: () => number;
}

export class SessionService {
  private readonly ttlSeconds: number;
  private readonly limits: RateLimitSettings;
  private readonly refuseUnverifiedWith: EmailVerification | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly signer: TokenSigner,
    settings: SessionSettings,
  ) {
    this.ttlSeconds = settings.ttlSeconds;
    this.limits = settings.limits;
    this.refuseUnverifiedWith = settings.refuseUnverifiedWith;
    this.now = settings.now ?? Date.now;
  }

  /**
   * Opens a session for the user through the given repository (so it can
   * join a transaction), only while `generation` is the user's current
   * credential generation: a login that read a password since changed fails.
   */
  async open(
    sessions: SessionRepository,
    userId: number,
    generation: number,
    origin: RequestOrigin,
  ): Promise<IssuedToken> {
    const sessionId = randomUUID();
    const expiresAtSeconds = this.nowSeconds() + this.ttlSeconds;
    const session = {
      id: sessionId,
      user_id: userId,
      expires_at: expiresAtSeconds,
      address: origin.address,
      user_agent: origin.userAgent ?? null,
    };
    const opened = await sessions.insert(session, generation);
    if (!opened) throw new DomainError('invalid_credentials');
    return {
      token: this.signer.sign({ userId, sessionId }, expiresAtSeconds),
      expiresAt: new Date(expiresAtSeconds * 1000),
    };
  }

  /**
   * Each attempt takes a place in three limits of failed logins before the
   * password is checked: for this email from this address (strict), from
   * this address for any email (spraying), and for this email from anywhere
   * (distributed guessing, set high so that others can't lock the owner
   * out). Unknown emails count like known ones, so the limits reveal nothing.
   * A failure keeps its places; a success gives its own back and clears this
   * email's count from this address.
   */
  async login(email: string, password: string, origin: RequestOrigin): Promise<IssuedToken> {
    const emailKey = canonicalEmail(email);
    const pairKey = emailAndAddressKey(emailKey, origin.address);
    const { loginFailuresPerEmailAndAddress, loginFailuresPerAddress, loginFailuresPerEmail } = this.limits;
    const claims: [RateLimitRule, string][] = [
      [loginFailuresPerEmailAndAddress, pairKey],
      [loginFailuresPerAddress, origin.address],
      [loginFailuresPerEmail, emailKey],
    ];
    return withPlaces(
      this.store.rateLimits,
      claims,
      this.now(),
      async (places) => {
        const credentials = await this.store.users.findCredentialsByEmail(emailKey);
        const check = credentials
          ? await this.hasher.verify(credentials.password_hash, password, origin.address)
          : await this.hasher.verifyAgainstNothing(password, origin.address).then(() => undefined);
        if (!credentials || !check?.matches) {
          await this.recordFailedLogin(credentials?.id ?? null, places.filledALimit, origin);
          throw new DomainError('invalid_credentials');
        }
        if (credentials.disabled_at !== null) {
          // The right password, so no guess: `counts` below gives the places back.
          await this.store.securityEvents.insert(auditEntry('login_refused_disabled', credentials.id, origin));
          throw new DomainError('account_disabled');
        }
        if (this.refuseUnverifiedWith && credentials.email_verified_at === null) {
          // The right password, so no guess: `counts` below gives the places back.
          await this.store.securityEvents.insert(auditEntry('login_refused_unverified', credentials.id, origin));
          await this.refuseUnverifiedWith.resendAfterRefusedLogin(credentials.id, origin);
          throw new DomainError('email_not_verified');
        }
        const upgradedHash = check.outdated ? await this.hasher.hash(password, origin.address) : undefined;
        const { id, credential_generation: generation } = credentials;
        try {
          return await this.store.transaction(async ({ users, sessions, rateLimits, securityEvents }) => {
            if (upgradedHash) await users.replacePasswordHash(id, upgradedHash, { generation, sameCredential: true });
            await rateLimits.deleteKey(loginFailuresPerEmailAndAddress.bucket, pairKey);
            await rateLimits.release(places.eventIds);
            await securityEvents.insert(auditEntry('login_success', id, origin));
            return this.open(sessions, id, generation, origin);
          });
        } catch (error) {
          // The password changed while it was being checked: it is no longer the right one.
          if (error instanceof DomainError) await this.recordFailedLogin(id, places.filledALimit, origin);
          throw error;
        }
      },
      // A failure keeps its places; a success released them in its transaction.
      (error) => error === undefined || (error instanceof DomainError && error.kind === 'invalid_credentials'),
    );
  }

  private async recordFailedLogin(userId: number | null, filledALimit: boolean, origin: RequestOrigin): Promise<void> {
    await this.store.transaction(async ({ securityEvents }) => {
      await securityEvents.insert(auditEntry('login_failure', userId, origin));
      if (filledALimit) await securityEvents.insert(auditEntry('lockout', userId, origin));
    });
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const claims = this.signer.verify(token);
    if (!claims) return undefined;
    const session = await this.store.sessions.findActive(claims.sessionId, this.nowSeconds());
    if (!session || session.user_id !== claims.userId) return undefined;
    return {
      userId: session.user_id,
      role: session.role,
      sessionId: claims.sessionId,
      emailVerified: Boolean(session.email_verified),
    };
  }

  /** Ends the principal's session; false if it had already ended (a concurrent logout). */
  logout(principal: Principal, origin: RequestOrigin): Promise<boolean> {
    return this.store.transaction(async ({ sessions, securityEvents }) => {
      const ended = await sessions.delete(principal.sessionId);
      if (ended) await securityEvents.insert(auditEntry('logout', principal.userId, origin));
      return ended;
    });
  }

  /** The principal's open sessions, newest first, with which one is theirs. */
  async listOwn(principal: Principal): Promise<(SessionRecord & { current: boolean })[]> {
    const sessions = await this.store.sessions.listOfUser(principal.userId, this.nowSeconds(), MAX_LISTED_SESSIONS);
    return sessions.map((session) => ({ ...session, current: session.id === principal.sessionId }));
  }

  /** Ends one of the principal's sessions; another user's is as unknown as a missing one. */
  async endOwn(principal: Principal, sessionId: string, origin: RequestOrigin): Promise<void> {
    await this.store.transaction(async ({ sessions, securityEvents }) => {
      if (!(await sessions.deleteOfUser(sessionId, principal.userId))) throw new DomainError('session_not_found');
      await securityEvents.insert(auditEntry('session_ended', principal.userId, origin));
    });
  }

  /** Ends every session of the principal but the current one; returns how many. */
  endOthers(principal: Principal, origin: RequestOrigin): Promise<number> {
    return this.store.transaction(async ({ sessions, securityEvents }) => {
      const ended = await sessions.deleteOthersOfUser(principal.userId, principal.sessionId);
      await securityEvents.insert(auditEntry('sessions_revoked', principal.userId, origin));
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
