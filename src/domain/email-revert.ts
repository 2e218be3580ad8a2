// The link in an email-change notice: it puts the old address back and ends
// every session. Someone holding only a stolen token could otherwise change
// the email, have a reset link sent to the new address and lock the owner out
// for good; the owner, reading the notice at the old address, undoes it. As
// the large mail providers do. Single-use, hashed at rest (one-time-tokens.ts).
import { auditEntry } from './audit.js';
import { DomainError } from './errors.js';
import type { RequestOrigin } from './model.js';
import { linkWith, newOneTimeToken, oneTimeTokenHash } from './one-time-tokens.js';
import type { Repositories, Store } from './ports.js';

export interface EmailRevertSettings {
  /** The page the link opens; `{token}` is replaced by the token (REVERT_EMAIL_URL). */
  revertUrl: string;
  tokenTtlSeconds: number;
}

export class EmailRevert {
  constructor(
    private readonly store: Store,
    private readonly settings: EmailRevertSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get tokenTtlSeconds(): number {
    return this.settings.tokenTtlSeconds;
  }

  /**
   * A link putting `oldEmail` back, stored in the change's transaction. A
   * later change does not void it: changing the address twice must not
   * silence the owner's notice.
   */
  async linkFor(repositories: Repositories, userId: number, oldEmail: string): Promise<string> {
    const { token, hash } = newOneTimeToken();
    const now = this.now();
    await repositories.emailRevertTokens.insert({
      user_id: userId,
      email: oldEmail,
      token_hash: hash,
      expires_at: now + this.settings.tokenTtlSeconds * 1000,
      created_at: now,
    });
    return linkWith(this.settings.revertUrl, token);
  }

  /**
   * Puts the link's address back, verified (the owner read mail there), and
   * ends every session; pending reset, verification and revert links go.
   * The link is used up first, in one step: of two uses at once, one works.
   */
  async revert(token: string, origin: RequestOrigin): Promise<void> {
    const usable = await this.store.emailRevertTokens.findUsable(oneTimeTokenHash(token), this.now());
    if (!usable) throw new DomainError('invalid_revert_token');
    await this.store.transaction(async (repositories) => {
      const { users, sessions, resetTokens, verificationTokens, emailRevertTokens, securityEvents } = repositories;
      const now = this.now();
      if (!(await emailRevertTokens.consume(usable.id, now))) throw new DomainError('invalid_revert_token');
      if (!(await users.update(usable.user_id, { email: usable.email }))) throw new DomainError('invalid_revert_token');
      await users.markEmailVerified(usable.user_id, usable.email, now);
      await resetTokens.deleteAllOfUser(usable.user_id);
      await verificationTokens.deleteAllOfUser(usable.user_id);
      await emailRevertTokens.deleteAllOfUser(usable.user_id);
      await sessions.deleteAllOfUser(usable.user_id);
      await securityEvents.insert(auditEntry('email_change_reverted', usable.user_id, origin));
    });
  }
}
