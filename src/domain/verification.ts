// Verifying that an account's owner reads mail at its email address: a
// single-use link to the address, as the reset links are (one-time-tokens.ts).
// A link verifies only the address it was sent to, so one sent before an
// email change verifies nothing after it.
import { auditEntry } from './audit.js';
import { DomainError, RateLimited } from './errors.js';
import { verificationMail } from './messages.js';
import type { Principal, RequestOrigin } from './model.js';
import { linkWith, newOneTimeToken, oneTimeTokenHash } from './one-time-tokens.js';
import type { Repositories, Store } from './ports.js';
import { takePlaces, type RateLimitRule } from './rate-limits.js';

export interface VerificationSettings {
  /** The app's verification page; `{token}` is replaced by the token. */
  verifyUrl: string;
  tokenTtlSeconds: number;
  /** Links asked for (or sent after a refused login) per account. */
  requestsPerUser: RateLimitRule;
}

export class EmailVerification {
  constructor(
    private readonly store: Store,
    private readonly settings: VerificationSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Queues a link to `email` in the caller's transaction, voiding the
   * account's older links: the message exists only if the change it
   * belongs to commits.
   */
  async sendLink(repositories: Repositories, userId: number, email: string, origin: RequestOrigin): Promise<void> {
    const { token, hash } = newOneTimeToken();
    const now = this.now();
    const ttlSeconds = this.settings.tokenTtlSeconds;
    await repositories.verificationTokens.deleteAllOfUser(userId);
    await repositories.verificationTokens.insert({
      user_id: userId,
      email,
      token_hash: hash,
      expires_at: now + ttlSeconds * 1000,
      created_at: now,
    });
    await repositories.outbox.enqueue(
      verificationMail(email, linkWith(this.settings.verifyUrl, token), ttlSeconds),
      now,
    );
    await repositories.securityEvents.insert(auditEntry('email_verification_sent', userId, origin));
  }

  /** A new link for the signed-in user, within the per-account limit. */
  async resend(principal: Principal, origin: RequestOrigin): Promise<void> {
    const email = await this.unverifiedEmailOf(principal.userId);
    await takePlaces(this.store.rateLimits, [[this.settings.requestsPerUser, String(principal.userId)]], this.now());
    await this.store.transaction((repositories) => this.sendLink(repositories, principal.userId, email, origin));
  }

  /**
   * After a login refused for an unverified email: a new link, unless the
   * account has had its share of links this hour (then nothing, silently;
   * the login's answer is the same either way).
   */
  async resendAfterRefusedLogin(userId: number, email: string, origin: RequestOrigin): Promise<void> {
    try {
      await takePlaces(this.store.rateLimits, [[this.settings.requestsPerUser, String(userId)]], this.now());
    } catch (error) {
      if (error instanceof RateLimited) return;
      throw error;
    }
    await this.store.transaction((repositories) => this.sendLink(repositories, userId, email, origin));
  }

  /**
   * Verifies the address a link was sent to. Using the token is one atomic
   * step, so of two requests with one token exactly one succeeds.
   */
  async verify(token: string, origin: RequestOrigin): Promise<void> {
    const usable = await this.store.verificationTokens.findUsable(oneTimeTokenHash(token), this.now());
    if (!usable) throw new DomainError('invalid_verification_token');
    await this.store.transaction(async ({ verificationTokens, users, securityEvents }) => {
      const now = this.now();
      if (!(await verificationTokens.consume(usable.id, now))) throw new DomainError('invalid_verification_token');
      // The account changed its email since the link was sent (or went).
      if (!(await users.markEmailVerified(usable.user_id, usable.email, now))) {
        throw new DomainError('invalid_verification_token');
      }
      await securityEvents.insert(auditEntry('email_verified', usable.user_id, origin));
    });
  }

  private async unverifiedEmailOf(userId: number): Promise<string> {
    const credentials = await this.store.users.findCredentialsById(userId);
    if (!credentials) throw new DomainError('session_ended');
    if (credentials.email_verified_at !== null) throw new DomainError('email_already_verified');
    return credentials.email;
  }
}
