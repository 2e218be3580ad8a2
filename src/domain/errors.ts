// Failures the domain reports. The HTTP layer maps each kind to the contract's
// status and body in one place (src/http/errors.ts).
export type DomainErrorKind =
  | 'forbidden'
  | 'user_not_found'
  | 'conflict' // an email or user_name that belongs to another account
  | 'invalid_credentials'
  | 'wrong_existing_password'
  | 'password_refused' // a new password breaks the policy (password-policy.ts)
  | 'email_refused' // an address mail is not sent to (email-policy.ts)
  | 'invalid_reset_token' // unknown, used or expired
  | 'invalid_verification_token' // unknown, used, expired, or for an address the account no longer has
  | 'email_already_verified'
  | 'email_not_verified' // REQUIRE_VERIFIED_EMAIL is on and the account's email is not verified
  | 'session_ended' // the token's session or account went while the request ran
  | 'session_not_found' // not one of the caller's open sessions
  | 'wrong_password' // the account's password, given again to confirm, is wrong
  | 'last_admin' // the change would leave no (enabled) admin
  | 'account_disabled' // an admin has disabled the account
  | 'invalid_refresh_token' // unknown, of an ended session, or reused (which ends the session)
  | 'refresh_token_already_used' // the same client used it moments ago: the session goes on
  | 'invalid_mfa_token' // a pending login's token: unknown, used, expired, out of checks, or its password changed
  | 'wrong_second_factor' // a wrong or used code completing a login (401)
  | 'wrong_code' // a wrong or used code confirming a change (400)
  | 'second_factor_active' // enrolling while a factor is active
  | 'no_enrollment' // confirming without an enrolment in progress
  | 'no_second_factor' // removing or renewing without an active factor
  | 'invalid_revert_token' // an email-change notice's link: unknown, used, expired or voided
  | 'second_factor_required' // MFA_REQUIRED_ROLES: the account's role must sign in with a second factor
  | 'reauthentication_required'; // the session's proof of its user is older than REAUTH_MAX_AGE_SECONDS

/** Which input field a failure is about, for the answer's details. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly problem?: FieldProblem,
  ) {
    super(kind);
    this.name = 'DomainError';
  }
}

/** A rate limit is reached; the caller may try again after `retryAfterSeconds`. */
export class RateLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limited for ${retryAfterSeconds} s`);
    this.name = 'RateLimited';
  }
}

/**
 * Too much password-hashing work is already waiting (from this client
 * address, or in all); answered at once instead of after a long wait.
 */
export class Overloaded extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`hashing queue full for ${retryAfterSeconds} s`);
    this.name = 'Overloaded';
  }
}
