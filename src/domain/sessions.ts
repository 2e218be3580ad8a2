// Logging in and out, refreshing, and turning a bearer token into a
// Principal. Every session is one row in the sessions table: its access and
// refresh tokens are accepted only while the row exists, so logout and
// password changes take effect at once, everywhere. Refresh tokens of ended
// sessions are pruned with the expired sessions.
import { randomUUID } from 'node:crypto';
import { DomainError } from './errors.js';
import { amrOf, amrText, type Authentication, type IssuedToken, type Principal, type RequestOrigin } from './model.js';
import type { ActiveSession, SessionRecord } from './ports.js';
import { canonicalEmail } from './normalize.js';
import { requesterGroup } from './hash-admission.js';
import type { HashingTurn, PasswordHasher } from './passwords.js';
import { auditEntry } from './audit.js';
import { newOneTimeToken, oneTimeTokenHash } from './one-time-tokens.js';
import type { Repositories, Store } from './ports.js';
import {
  emailAndAddressKey,
  longestWindowSeconds,
  withPlaces,
  type RateLimitRule,
  type RateLimitSettings,
} from './rate-limits.js';
import { SignInGate, type SessionOpener, type SignIn } from './sign-in-gate.js';
import type { TokenClaims, TokenSigner } from './tokens.js';
import type { EmailVerification } from './verification.js';

const MAX_LISTED_SESSIONS = 100; // the spec's SessionList maxItems

export interface SessionSettings {
  /** How long an access token lasts. */
  accessTokenTtlSeconds: number;
  /** How long a session lasts from login: its refresh tokens work until then. */
  sessionTtlSeconds: number;
  /** How long after a refresh the same client may present its token again and get 409 instead of losing the session. */
  refreshReuseGraceSeconds: number;
  limits: RateLimitSettings;
  /**
   * Set when REQUIRE_VERIFIED_EMAIL is on: an account whose email is not
   * verified is refused a session, and sent a new link through this.
   */
  refuseUnverifiedWith?: EmailVerification;
  /** How long a login waiting for its second factor may be completed. */
  challengeTtlSeconds: number;
  now?: () => number;
}

export class SessionService implements SessionOpener {
  /** The gate every way in passes (sign-in-gate.ts). */
  readonly gate: SignInGate;
  private readonly accessTokenTtlSeconds: number;
  private readonly sessionTtlSeconds: number;
  private readonly refreshReuseGraceMs: number;
  private readonly limits: RateLimitSettings;
  private readonly refuseUnverifiedWith: EmailVerification | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly signer: TokenSigner,
    settings: SessionSettings,
  ) {
    this.accessTokenTtlSeconds = settings.accessTokenTtlSeconds;
    this.sessionTtlSeconds = settings.sessionTtlSeconds;
    this.refreshReuseGraceMs = settings.refreshReuseGraceSeconds * 1000;
    this.limits = settings.limits;
    this.refuseUnverifiedWith = settings.refuseUnverifiedWith;
    this.now = settings.now ?? Date.now;
    this.gate = new SignInGate(this, { challengeTtlSeconds: settings.challengeTtlSeconds, now: this.now });
  }

  /**
   * Opens a session for the user through the given repositories (so it can
   * join a transaction), only while `generation` is the user's current
   * credential generation: a login that read a password since changed fails.
   */
  async open(
    repositories: Repositories,
    userId: number,
    generation: number,
    origin: RequestOrigin,
    authentication: Authentication = { amr: ['pwd'], at: this.now() },
  ): Promise<IssuedToken> {
    const sessionId = randomUUID();
    const sessionEndsAt = this.nowSeconds() + this.sessionTtlSeconds;
    const session = {
      id: sessionId,
      user_id: userId,
      expires_at: sessionEndsAt,
      address: origin.address,
      user_agent: origin.userAgent ?? null,
      amr: amrText(authentication.amr),
      authenticated_at: authentication.at,
    };
    const opened = await repositories.sessions.insert(session, generation);
    if (!opened) throw new DomainError('invalid_credentials');
    return this.issue(repositories, { userId, sessionId }, sessionEndsAt, authentication);
  }

  /**
   * The next access token and refresh token of the refresh token's session.
   * The token is marked used in the same step that checks it was unused, so
   * of two requests racing with one token exactly one gets the pair. A token
   * used before means it was copied: the session ends, unless the client
   * that used it sends it again within the grace period (two requests racing
   * from one app), which is told `refresh_token_already_used` and keeps the
   * session.
   */
  async refresh(refreshToken: string, origin: RequestOrigin): Promise<IssuedToken> {
    const tokenHash = oneTimeTokenHash(refreshToken);
    const now = this.now();
    const nowSeconds = Math.floor(now / 1000);
    const client = { address: origin.address, userAgent: origin.userAgent ?? null };
    const outcome = await this.store.transaction(async (repositories) => {
      const { refreshTokens, sessions, securityEvents } = repositories;
      const sessionId = await refreshTokens.use(tokenHash, now, client); // a write first: the SQLite rule
      if (sessionId !== undefined) {
        const session = await sessions.findOpen(sessionId, nowSeconds);
        if (!session) return 'refused' as const;
        // The session keeps how its user signed in: a refresh proves nothing new.
        return this.issue(repositories, { userId: session.user_id, sessionId }, session.expires_at, {
          amr: amrOf(session.amr),
          at: session.authenticated_at,
        });
      }
      const used = await refreshTokens.findUsed(tokenHash);
      const session = used && (await sessions.findOpen(used.session_id, nowSeconds));
      if (!used || !session) return 'refused' as const;
      const sameClient = used.used_address === client.address && used.used_user_agent === client.userAgent;
      if (sameClient && now - used.used_at <= this.refreshReuseGraceMs) return 'raced' as const;
      if (await sessions.delete(used.session_id)) {
        await securityEvents.insert(auditEntry('refresh_token_reused', session.user_id, origin));
      }
      return 'refused' as const;
    });
    if (outcome === 'refused') throw new DomainError('invalid_refresh_token');
    if (outcome === 'raced') throw new DomainError('refresh_token_already_used');
    return outcome;
  }

  /** An access token for the session and a new refresh token, whose hash is stored with it. */
  private async issue(
    { refreshTokens }: Repositories,
    claims: TokenClaims,
    sessionEndsAt: number,
    authentication: Authentication,
  ): Promise<IssuedToken> {
    const { token: refreshToken, hash } = newOneTimeToken();
    await refreshTokens.insert({
      token_hash: hash,
      session_id: claims.sessionId,
      created_at: this.now(),
    });
    const expiresAtSeconds = Math.min(this.nowSeconds() + this.accessTokenTtlSeconds, sessionEndsAt);
    return {
      token: this.signer.sign(claims, expiresAtSeconds, {
        amr: authentication.amr,
        authTimeSeconds: Math.floor(authentication.at / 1000),
      }),
      expiresAt: new Date(expiresAtSeconds * 1000),
      refreshToken,
    };
  }

  /**
   * Each attempt takes a place in three limits of failed logins before the
   * password is checked: for this email from this address (strict), from
   * this address for any email (spraying), and for this email from anywhere
   * (distributed guessing, set high so that others can't lock the owner
   * out). Unknown emails count like known ones, so the limits reveal nothing.
   * A failure keeps its places; a success gives its own back and clears this
   * email's count from this address. Every attempt, successful or not, also
   * takes a place for good in the address's ceiling. The attempt takes its
   * turn in the hashing first, so a busy service turns it away before it
   * writes anything. The right password hands the account to the gate: a
   * session, or a second-factor challenge.
   */
  async login(email: string, password: string, origin: RequestOrigin): Promise<SignIn> {
    const turn = this.hasher.takeTurn(origin.address);
    try {
      return await turn.hold(() => this.loginInTurn(email, password, origin, turn));
    } finally {
      turn.leave();
    }
  }

  private loginInTurn(email: string, password: string, origin: RequestOrigin, turn: HashingTurn): Promise<SignIn> {
    const emailKey = canonicalEmail(email);
    const pairKey = emailAndAddressKey(emailKey, origin.address);
    const { loginFailuresPerEmailAndAddress, loginFailuresPerAddress, loginFailuresPerEmail } = this.limits;
    const claims: [RateLimitRule, string][] = [
      [this.limits.loginAttemptsPerAddress, requesterGroup(origin.address)],
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
          ? await turn.verify(credentials.password_hash, password)
          : await turn.verifyAgainstNothing(password).then(() => undefined);
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
          await this.refuseUnverifiedWith.resendAfterRefusedLogin(credentials.id, credentials.email, origin);
          throw new DomainError('email_not_verified');
        }
        const upgradedHash = check.outdated ? await turn.hash(password) : undefined;
        const { id, credential_generation: generation } = credentials;
        try {
          return await this.store.transaction(async (repositories) => {
            const { users, rateLimits, securityEvents } = repositories;
            // The limits' events before the account's row: the lock order of erasure (erasure.ts).
            await rateLimits.deleteKey(loginFailuresPerEmailAndAddress.bucket, pairKey);
            await rateLimits.release(places.eventIds);
            if (upgradedHash) await users.replacePasswordHash(id, upgradedHash, { generation, sameCredential: true });
            const signIn = await this.gate.signIn(repositories, { id, generation }, ['pwd'], origin);
            await securityEvents.insert(
              auditEntry(signIn.kind === 'session' ? 'login_success' : 'login_second_factor_required', id, origin),
            );
            return signIn;
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

  /**
   * The token's principal, if it is valid and its session open. With
   * `readAlong`, that user's profile is read in the same statement as the
   * session and carried on the principal.
   */
  async authenticate(token: string, readAlong?: number): Promise<Principal | undefined> {
    const claims = await this.signer.verify(token);
    if (!claims) return undefined;
    const { sessions } = this.store;
    if (readAlong === undefined) {
      const session = await sessions.findActive(claims.sessionId, this.nowSeconds());
      return session && session.user_id === claims.userId ? principalOf(session, claims) : undefined;
    }
    const session = await sessions.findActiveWithProfile(claims.sessionId, this.nowSeconds(), readAlong);
    if (!session || session.user_id !== claims.userId) return undefined;
    return { ...principalOf(session, claims), readAlong: { userId: readAlong, profile: session.profile } };
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

  /** Deletes expired sessions, the refresh tokens of ended ones, and rate-limit events older than any window. */
  async pruneExpired(): Promise<number> {
    await this.store.rateLimits.deleteOlderThan(this.now() - longestWindowSeconds(this.limits) * 1000);
    await this.store.mfaChallenges.deleteExpired(this.now());
    const ended = await this.store.sessions.deleteExpired(this.nowSeconds());
    await this.store.refreshTokens.deleteOrphaned();
    return ended;
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

function principalOf(session: ActiveSession, claims: TokenClaims): Principal {
  return {
    userId: session.user_id,
    role: session.role,
    sessionId: claims.sessionId,
    emailVerified: Boolean(session.email_verified),
    authentication: {
      amr: amrOf(session.amr),
      at: Number(session.authenticated_at),
    },
  };
}
