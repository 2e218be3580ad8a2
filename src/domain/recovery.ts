// Forgotten passwords: a single-use link by mail, then a new password. The
// token is 256 random bits; only its SHA-256 is stored, it expires, a newer
// request voids the older ones, and using it is one atomic step, so of two
// resets with one token exactly one succeeds.
import { createHash, randomBytes } from 'node:crypto';
import { auditEntry } from './audit.js';
import { replaceCredential } from './credentials.js';
import { DomainError } from './errors.js';
import type { RequestOrigin } from './model.js';
import { canonicalEmail } from './normalize.js';
import { checkNewPassword } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { OutgoingMail, Store } from './ports.js';
import { takePlaces, type RateLimitRule } from './rate-limits.js';

export interface RecoverySettings {
  /** The app's reset page; `{token}` is replaced by the token. */
  resetUrl: string;
  tokenTtlSeconds: number;
  requestsPerEmail: RateLimitRule;
  requestsPerAddress: RateLimitRule;
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

  private async sendResetLink(email: string, origin: RequestOrigin): Promise<void> {
    const credentials = await this.store.users.findCredentialsByEmail(email);
    if (!credentials) return;
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.store.transaction(async ({ resetTokens, outbox, securityEvents }) => {
      await resetTokens.deleteAllOfUser(credentials.id); // a newer request voids the older ones
      await resetTokens.insert({
        user_id: credentials.id,
        token_hash: tokenHash(token),
        expires_at: now + this.settings.tokenTtlSeconds * 1000,
        created_at: now,
      });
      await outbox.enqueue(resetMail(email, this.linkFor(token), this.settings.tokenTtlSeconds), now);
      await securityEvents.insert(auditEntry('password_reset_requested', credentials.id, origin));
    });
  }

  private linkFor(token: string): string {
    return this.settings.resetUrl.replace('{token}', encodeURIComponent(token));
  }

  /**
   * Sets a new password with a reset token. Every session of the account
   * ends and the credential generation moves on, so no login in flight with
   * the old password can open one.
   */
  async resetPassword(token: string, newPassword: string, origin: RequestOrigin): Promise<void> {
    checkNewPassword(newPassword);
    const usable = await this.store.resetTokens.findUsable(tokenHash(token), this.now());
    if (!usable) throw new DomainError('invalid_reset_token');
    const passwordHash = await this.hasher.hash(newPassword, origin.address);
    await this.store.transaction(async (repositories) => {
      if (!(await repositories.resetTokens.consume(usable.id, this.now())))
        throw new DomainError('invalid_reset_token');
      const credentials = await repositories.users.findCredentialsById(usable.user_id);
      const generation = credentials?.credential_generation ?? -1;
      if (!(await replaceCredential(repositories, usable.user_id, passwordHash, { generation }))) {
        throw new DomainError('invalid_reset_token'); // the account went, or changed its password this instant
      }
      await repositories.securityEvents.insert(auditEntry('password_reset', usable.user_id, origin));
    });
  }
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function resetMail(email: string, link: string, ttlSeconds: number): OutgoingMail {
  const minutes = Math.round(ttlSeconds / 60);
  return {
    to: email,
    subject: 'Reset your password',
    text:
      `Someone asked to reset the password of the account for ${email}.\n\n` +
      `To choose a new password, open this link within ${minutes} minutes:\n${link}\n\n` +
      'If it was not you, ignore this message: your password stays as it is.\n',
    html:
      `<p>Someone asked to reset the password of the account for ${escapeHtml(email)}.</p>` +
      `<p>To choose a new password, <a href="${escapeHtml(link)}">open this link</a> within ${minutes} minutes.</p>` +
      '<p>If it was not you, ignore this message: your password stays as it is.</p>',
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
