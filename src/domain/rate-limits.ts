// Sliding-window limits kept in the database, so every process and instance
// sees the same counts. A request takes its place in every limit that applies
// before it does the expensive work (a password check, an insert), in one
// atomic step: however many arrive at once, no more than the limit get past.
// A rule with limit 0 is off.
import { createHash } from 'node:crypto';
import { RateLimited } from './errors.js';
import { canonicalEmail } from './normalize.js';
import type { RateLimitRepository } from './ports.js';

export interface RateLimitRule {
  bucket: string;
  limit: number;
  windowSeconds: number;
  /** Its places count whatever the outcome: a success gives them back only in the other rules. */
  forGood?: boolean;
}

export interface RateLimitSettings {
  /** Failed logins for one email from one address: the strict limit. */
  loginFailuresPerEmailAndAddress: RateLimitRule;
  /** Failed logins from one address, any email: spraying. */
  loginFailuresPerAddress: RateLimitRule;
  /** Every login from one address (IPv6 by /64), successful or not: the ceiling. */
  loginAttemptsPerAddress: RateLimitRule;
  /** Failed logins for one email from all addresses: distributed guessing. */
  loginFailuresPerEmail: RateLimitRule;
  registrationsPerAddress: RateLimitRule;
  /** Wrong existing passwords on password changes, per account. */
  passwordChangeFailuresPerUser: RateLimitRule;
  /** Password-reset requests per email and per client address, an hour. */
  resetRequestsPerEmail: RateLimitRule;
  resetRequestsPerAddress: RateLimitRule;
  /** Verification links and email-change notices per account, an hour. */
  verificationMailPerUser: RateLimitRule;
  /** Every message to one address, from any account or request, an hour. */
  mailPerRecipient: RateLimitRule;
  /** Wrong second-factor codes per account, in the login window. */
  mfaFailuresPerUser: RateLimitRule;
}

export interface RateLimitValues {
  loginMaxFailuresPerEmailAndAddress: number;
  loginMaxFailuresPerAddress: number;
  loginMaxAttemptsPerAddress: number;
  loginMaxFailuresPerEmail: number;
  loginFailureWindowSeconds: number;
  registrationsPerAddress: number;
  passwordChangeMaxFailuresPerUser: number;
  passwordResetRequestsPerEmail: number;
  passwordResetRequestsPerAddress: number;
  emailVerificationRequestsPerUser: number;
  mailPerRecipient: number;
  mfaMaxFailuresPerUser: number;
}

export function rateLimitSettings(values: RateLimitValues): RateLimitSettings {
  const rule = (windowSeconds: number) => (bucket: string, limit: number) => ({ bucket, limit, windowSeconds });
  const loginRule = rule(values.loginFailureWindowSeconds);
  const hourlyRule = rule(3600);
  return {
    loginFailuresPerEmailAndAddress: loginRule(
      'login_failure_email_address',
      values.loginMaxFailuresPerEmailAndAddress,
    ),
    loginFailuresPerAddress: loginRule('login_failure_address', values.loginMaxFailuresPerAddress),
    loginAttemptsPerAddress: {
      ...loginRule('login_attempt_address', values.loginMaxAttemptsPerAddress),
      forGood: true,
    },
    loginFailuresPerEmail: loginRule('login_failure_email', values.loginMaxFailuresPerEmail),
    registrationsPerAddress: hourlyRule('registration_address', values.registrationsPerAddress),
    passwordChangeFailuresPerUser: loginRule('password_change_failure_user', values.passwordChangeMaxFailuresPerUser),
    resetRequestsPerEmail: hourlyRule('reset_request_email', values.passwordResetRequestsPerEmail),
    resetRequestsPerAddress: hourlyRule('reset_request_address', values.passwordResetRequestsPerAddress),
    verificationMailPerUser: hourlyRule('verification_mail_user', values.emailVerificationRequestsPerUser),
    mailPerRecipient: hourlyRule('mail_recipient', values.mailPerRecipient),
    mfaFailuresPerUser: loginRule('mfa_failure_user', values.mfaMaxFailuresPerUser),
  };
}

/** The key of the strict login limit: one email from one address. */
export function emailAndAddressKey(email: string, address: string): string {
  return `${email} ${address}`;
}

/**
 * The claims of mail to `emails` in the cap per recipient. Keyed by a hash
 * of the address, not the address: closing an account deletes the limits'
 * events keyed by its email (erasure.ts), and a cap that started over with
 * every closed account would cap nothing. The hash is kept no longer than
 * the window.
 */
export function recipientClaims(rule: RateLimitRule, emails: string[]): [RateLimitRule, string][] {
  return emails.map((email) => [rule, createHash('sha256').update(canonicalEmail(email)).digest('base64url')]);
}

export interface Places {
  eventIds: number[];
  /** This request took the last place of some limit. */
  filledALimit: boolean;
}

/** Takes one place in each (rule, key), all or none, for good; throws RateLimited when a limit is full. */
export async function takePlaces(
  repository: RateLimitRepository,
  claims: [RateLimitRule, string][],
  nowMs: number,
): Promise<Places> {
  const reservation = await repository.reserve(
    claims
      .filter(([rule]) => rule.limit > 0)
      .map(([rule, key]) => ({
        bucket: rule.bucket,
        key,
        limit: rule.limit,
        windowMs: rule.windowSeconds * 1000,
        forGood: rule.forGood,
      })),
    nowMs,
  );
  if (!reservation.granted) throw new RateLimited(Math.ceil(reservation.retryAfterMs / 1000));
  return reservation;
}

/**
 * Takes one place in each (rule, key), all or none, and runs `work`. Throws
 * RateLimited, before any work, when a limit is full. The places are given
 * back afterwards unless `counts` says the outcome (the error, or undefined
 * for a success) counts against the limits.
 */
export async function withPlaces<T>(
  repository: RateLimitRepository,
  claims: [RateLimitRule, string][],
  nowMs: number,
  work: (places: Places) => Promise<T>,
  counts: (error: unknown) => boolean,
): Promise<T> {
  const reservation = await takePlaces(repository, claims, nowMs);
  let outcome: unknown;
  try {
    return await work(reservation);
  } catch (error) {
    outcome = error;
    throw error;
  } finally {
    if (!counts(outcome)) await repository.release(reservation.eventIds);
  }
}

/**
 * For mail, where a full limit means sending nothing rather than an error:
 * takes one place in each (rule, key), all or none, and runs `work` with
 * whether it got them. The places are given back if `work` fails.
 */
export async function withPlacesIfFree<T>(
  repository: RateLimitRepository,
  claims: [RateLimitRule, string][],
  nowMs: number,
  work: (granted: boolean) => Promise<T>,
): Promise<T> {
  let places: Places | undefined;
  try {
    places = await takePlaces(repository, claims, nowMs);
  } catch (error) {
    if (!(error instanceof RateLimited)) throw error;
  }
  try {
    return await work(places !== undefined);
  } catch (error) {
    if (places) await repository.release(places.eventIds);
    throw error;
  }
}

/** The longest window any rule keeps events for. */
export function longestWindowSeconds(settings: RateLimitSettings): number {
  return Math.max(...Object.values<RateLimitRule>({ ...settings }).map((rule) => rule.windowSeconds));
}
