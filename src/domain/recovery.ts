// Forgotten passwords: a single-use link by mail (one-time-tokens.ts), then a
// new password. The token expires, a newer request voids the older ones, and
// using it is one atomic step, so of two resets with one token exactly one
// succeeds. A disabled account gets no link, and can't use one sent before.
import { auditEntry } from './audit.js';
import { replaceCredential } from './credentials.js';
import { checkMailableEmail } from './email-policy.js';
import { DomainError } from './errors.js';
import { resetMail } from './messages.js';
import type { RequestOrigin } from './model.js';
import { canonicalEmail } from './normalize.js';
import { issueOneTimeToken, linkWith, oneTimeTokenHash } from './one-time-tokens.js';
import { checkNewPassword } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { Store } from './ports.js';
import { recipientClaims, takePlaces, withPlacesIfFree, type RateLimitRule } from './rate-limits.js';

export interface RecoverySettings {
  /** The app's reset page; `{token}` is replaced by the token. */
  resetUrl: string;
  tokenTtlSeconds: number;
  requestsPerEmail: RateLimitRule;
  requestsPerAddress: RateLimitRule;
  /** Messages to one address an hour, from any account or request (verification.ts). */
  mailPerRecipient: RateLimitRule;
}

export class RecoveryService {
  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly settings: RecoverySettings,
    /** Failures of the work done after a request was answered. */
    private readonly onBackgroundFailure: (error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes the request's places in the limits, then answers: the link is made
   * and queued afterwards, so an unknown email can't be told apart from a
   * known one by the answer or its timing. Resolves to the background work,
   * for tests and shutdown; callers answering HTTP don't wait for it.
   */
  async requestReset(email: string, origin: RequestOrigin): Promise<{ done: Promise<void> }> {
    checkMailableEmail(email);
    const emailKey = canonicalEmail(email);
    await takePlaces(
      this.store.rateLimits,
      [
        [this.settings.requestsPerEmail, emailKey],
        [this.settings.requestsPerAddress, origin.address],
      ],
      this.now(),
    );
    const done = this.sendResetLink(emailKey, origin).catch(this.onBackgroundFailure);
    return { done };
  }

  /** Nothing for an unknown or disabled account, nor past the address's cap of mail. */
  private async sendResetLink(email: string, origin: RequestOrigin): Promise<void> {
    const credentials = await this.store.users.findCredentialsByEmail(email);
    if (!credentials || credentials.disabled_at !== null) return;
    const now = this.now();
    const ttlSeconds = this.settings.tokenTtlSeconds;
    const claims = recipientClaims(this.settings.mailPerRecipient, [email]);
    await withPlacesIfFree(this.store.rateLimits, claims, now, async (mayMail) => {
      if (!mayMail) return;
      await this.store.transaction(async ({ resetTokens, outbox, securityEvents }) => {
        // A newer request voids the older ones.
        const token = await issueOneTimeToken(resetTokens, credentials.id, email, ttlSeconds, now);
        await outbox.enqueue(resetMail(email, linkWith(this.settings.resetUrl, token), ttlSeconds), now);
        await securityEvents.insert(auditEntry('password_reset_requested', credentials.id, origin));
      });
    });
  }

  /**
   * Sets a new password with a reset token. Every session of the account
   * ends and the credential generation moves on, so no login in flight with
   * the old password can open one. The link works only while the account
   * still has the address it was mailed to, which it so proves: the email
   * counts as verified too. The account's row is taken first, as an email
   * change takes it, so the two can't deadlock on PostgreSQL.
   */
  async resetPassword(token: string, newPassword: string, origin: RequestOrigin): Promise<void> {
    checkNewPassword(newPassword);
    const usable = await this.store.resetTokens.findUsable(oneTimeTokenHash(token), this.now());
    if (!usable) throw new DomainError('invalid_reset_token');
    const passwordHash = await this.hasher.hash(newPassword, origin.address);
    await this.store.transaction(async (repositories) => {
      const now = this.now();
      // Any failure below rolls this back too.
      if (!(await repositories.users.markEmailVerified(usable.user_id, usable.email, now))) {
        throw new DomainError('invalid_reset_token'); // the account moved to another address, or went
      }
      if (!(await repositories.resetTokens.consume(usable.id, now))) throw new DomainError('invalid_reset_token');
      const credentials = await repositories.users.findCredentialsById(usable.user_id);
      // Disabled since the link was sent: the token stays, for after it is enabled again.
      if (!credentials || credentials.disabled_at !== null) throw new DomainError('invalid_reset_token');
      const generation = credentials.credential_generation;
      if (!(await replaceCredential(repositories, usable.user_id, passwordHash, { generation }))) {
        throw new DomainError('invalid_reset_token');
      }
      await repositories.securityEvents.insert(auditEntry('password_reset', usable.user_id, origin));
    });
  }
}
