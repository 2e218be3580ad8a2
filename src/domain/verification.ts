// Verifying that an account's owner reads mail at its email address: a
// single-use link to the address, as the reset links are (one-time-tokens.ts).
// A link verifies only the address it was sent to, so one sent before an
// email change verifies nothing after it. Every message this sends, and the
// notice of an email change, counts against one hourly limit per account, so
// the service can't be made to mail an address without end.
import { auditEntry } from './audit.js';
import { DomainError, RateLimited } from './errors.js';
import { verificationMail } from './messages.js';
import type { Principal, RequestOrigin } from './model.js';
import { issueOneTimeToken, linkWith, oneTimeTokenHash } from './one-time-tokens.js';
import type { Repositories, Store } from './ports.js';
import { takePlaces, type RateLimitRule } from './rate-limits.js';

export interface VerificationSettings {
  /** The app's verification page; `{token}` is replaced by the token. */
  verifyUrl: string;
  tokenTtlSeconds: number;
  /** Messages per account an hour: links asked for, sent after a refused login or an email change. */
  mailPerUser: RateLimitRule;
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
    const now = this.now();
    const ttlSeconds = this.settings.tokenTtlSeconds;
    const token = await issueOneTimeToken(repositories.verificationTokens, userId, email, ttlSeconds, now);
    await repositories.outbox.enqueue(
      verificationMail(email, linkWith(this.settings.verifyUrl, token), ttlSeconds),
      now,
    );
    await repositories.securityEvents.insert(auditEntry('email_verification_sent', userId, origin));
  }

  /** Takes a place in the account's mail limit: true if granted, false if the hour's share is used. */
  async mayMail(userId: number): Promise<boolean> {
    try {
      await takePlaces(this.store.rateLimits, [[this.settings.mailPerUser, String(userId)]], this.now());
      return true;
    } catch (error) {
      if (error instanceof RateLimited) return false;
      throw error;
    }
  }

  /** A new link for the signed-in user; past the account's limit, RateLimited (429). */
  async resend(principal: Principal, origin: RequestOrigin): Promise<void> {
    const credentials = await this.store.users.findCredentialsById(principal.userId);
    if (!credentials) throw new DomainError('session_ended');
    if (credentials.email_verified_at !== null) throw new DomainError('email_already_verified');
    await takePlaces(this.store.rateLimits, [[this.settings.mailPerUser, String(principal.userId)]], this.now());
    await this.sendToCurrentAddress(principal.userId, origin);
  }

  /**
   * After a login refused for an unverified email: a new link, unless the
   * account has had its share this hour (then nothing: the login's answer
   * is the same either way).
   */
  async resendAfterRefusedLogin(userId: number, origin: RequestOrigin): Promise<void> {
    if (await this.mayMail(userId)) await this.sendToCurrentAddress(userId, origin);
  }

  /** The address is read in the transaction that sends, so an email change just before is seen. */
  private async sendToCurrentAddress(userId: number, origin: RequestOrigin): Promise<void> {
    await this.store.transaction(async (repositories) => {
      // A write first: on SQLite a transaction that has read can't start
      // writing once another connection has written (SQLITE_BUSY at once).
      await repositories.verificationTokens.deleteAllOfUser(userId);
      const credentials = await repositories.users.findCredentialsById(userId);
      if (!credentials || credentials.email_verified_at !== null) return; // gone, or verified meanwhile
      await this.sendLink(repositories, userId, credentials.email, origin);
    });
  }

  /**
   * Verifies the address a link was sent to. Using the token is one atomic
   * step, so of two requests with one token exactly one succeeds. The
   * account's row is taken first, as an email change takes it, so the two
   * can't deadlock on PostgreSQL.
   */
  async verify(token: string, origin: RequestOrigin): Promise<void> {
    const usable = await this.store.verificationTokens.findUsable(oneTimeTokenHash(token), this.now());
    if (!usable) throw new DomainError('invalid_verification_token');
    await this.store.transaction(async ({ verificationTokens, users, securityEvents }) => {
      const now = this.now();
      // The account changed its email since the link was sent (or went); a
      // failure below rolls this back too.
      if (!(await users.markEmailVerified(usable.user_id, usable.email, now))) {
        throw new DomainError('invalid_verification_token');
      }
      if (!(await verificationTokens.consume(usable.id, now))) throw new DomainError('invalid_verification_token');
      await securityEvents.insert(auditEntry('email_verified', usable.user_id, origin));
    });
  }
}
