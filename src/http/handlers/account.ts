import type { EmailRevert } from '../../domain/email-revert.js';
import type { AccountRecord } from '../../domain/model.js';
import type { SecondFactorService, SecondFactorStatus } from '../../domain/second-factor.js';
import type { UserService } from '../../domain/users.js';
import type { EmailVerification } from '../../domain/verification.js';
import type { OperationHandlers, ResponseBody } from '../contract.js';
import { NO_STORE, signedIn } from './replies.js';

type AccountOperations =
  'getAccount' | 'closeAccount' | 'verifyEmail' | 'resendVerificationEmail' | 'revertEmailChange';

export function accountHandlers(
  users: UserService,
  verification: EmailVerification,
  secondFactor: SecondFactorService,
  emailRevert: EmailRevert,
): Pick<OperationHandlers, AccountOperations> {
  return {
    async getAccount({ principal }) {
      const caller = signedIn(principal);
      const [account, status] = await Promise.all([users.getAccount(caller), secondFactor.status(caller.userId)]);
      return { status: 200, body: accountView(account, status), headers: NO_STORE };
    },

    async closeAccount({ body, principal, origin }) {
      await users.closeAccount(signedIn(principal), body.password, origin);
      return { status: 200, body: { message: 'Account deleted' } };
    },

    async verifyEmail({ body, origin }) {
      await verification.verify(body.token, origin);
      return { status: 200, body: { message: 'Email address verified' } };
    },

    async revertEmailChange({ body, origin }) {
      await emailRevert.revert(body.token, origin);
      return { status: 200, body: { message: 'Email address restored' } };
    },

    async resendVerificationEmail({ principal, origin }) {
      await verification.resend(signedIn(principal), origin);
      return { status: 202, body: { message: 'A verification link is on its way' } };
    },
  };
}

function accountView(account: AccountRecord, secondFactor: SecondFactorStatus): ResponseBody<'getAccount', 200> {
  const { email_verified_at, created_at, password_changed_at, ...profile } = account;
  return {
    ...profile,
    email_verified: email_verified_at !== null,
    email_verified_at: isoOrNull(email_verified_at),
    created_at: new Date(created_at).toISOString(),
    password_changed_at: isoOrNull(password_changed_at),
    mfa_enabled: secondFactor.enabled,
    recovery_codes_left: secondFactor.recoveryCodesLeft,
  };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
