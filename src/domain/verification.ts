// Verifying that an account's owner reads mail at its email address: a
// single-use link to the address, as the reset links are (one-time-tokens.ts).
// A link verifies only the address it was sent to, so one sent before an
// email change verifies nothing after it. Every message this sends, and the
// notice of an email change, counts against one hourly limit per account and
// the hourly cap of its recipient address (whatever account or request the
// mail comes from), so the service can't be made to mail an address without
// end.
import { auditEntry } from './audit.js';
import { DomainError } from './errors.js';
import { verificationMail } from './messages.js';
import type { Principal, RequestOrigin } from './model.js';
import { issueOneTimeToken, linkWith, oneTimeTokenHash } from './one-time-tokens.js';
import type { Repositories, Store } from './ports.js';
import { recipientClaims, takePlaces, withPlacesIfFree, type RateLimitRule } from './rate-limits.js';

export interface VerificationSettings {
  /** The app's verification page; `{token}` is replaced by the token. */
  verifyUrl: string;
  tokenTtlSeconds: number;
  /** Messages per account an hour: links asked for, sent after a refused login or an email change. */
  mailPerUser: RateLimitRule;
  /** Messages to one address an hour, from any account or request. */
  mailPerRecipient: RateLimitRule;
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

  /**
   * Runs `work` with whether mail may go to `recipients`: a place in the cap
   * of each address and, with `userId`, in the account's limit, all or none.
   * The places are given back if `work` fails (an email change or a
   * registration that finds the email taken sends nothing).
   */
  async withMailPlaces<T>(
    recipients: string[],
    userId: number | undefined,
    work: (mayMail: boolean) => Promise<T>,
  ): Promise<T> {
    return withPlacesIfFree(this.store.rateLimits, this.mailClaims(recipients, userId), this.now(), work);
  }

  private mailClaims(recipients: string[], userId?: number): [RateLimitRule, string][] {
    const perRecipient = recipientClaims(this.settings.mailPerRecipient, recipients);
    return userId === undefined ? perRecipient : [[this.settings.mailPerUser, String(userId)], ...perRecipient];
  }

  /** A new link for the signed-in user; past the account's limit or the address's cap, RateLimited (429). */
  async resend(principal: Principal, origin: RequestOrigin): Promise<void> {
    const credentials = await this.store.users.findCredentialsById(principal.userId);
    if (!credentials) throw new DomainError('session_ended');
    if (credentials.email_verified_at !== null) throw new DomainError('email_already_verified');
    await takePlaces(this.store.rateLimits, this.mailClaims([credentials.email], principal.userId), this.now());
    await this.sendToCurrentAddress(principal.userId, origin);
  }

  /**
   * After a login refused for an unverified email: a new link, unless the
   * account or the address has had its share this hour (then nothing: the
   * login's answer is the same either way).
   */
  async resendAfterRefusedLogin(userId: number, email: string, origin: RequestOrigin): Promise<void> {
    await this.withMailPlaces([email], userId, async (mayMail) => {
      if (mayMail) await this.sendToCurrentAddress(userId, origin);
    });
  }

  /**
   * The address is read in the transaction that sends, so an email change
   * just before is seen (its link goes out in place of the older one; the
   * place was taken for the address read before, a rare race not worth a
   * second round trip).
   */
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
