// What the domain needs from storage, one file per area in ports/; here, the
// whole set and its transactions. src/storage implements these; the domain
// never imports Knex.
import type { SecurityEventRepository } from './ports/audit.js';
import type { OneTimeTokenRepository } from './ports/one-time-tokens.js';
import type { OutboxRepository } from './ports/outbox.js';
import type { RateLimitRepository } from './ports/rate-limits.js';
import type { RefreshTokenRepository } from './ports/refresh-tokens.js';
import type { MfaChallengeRepository, RecoveryCodeRepository, TotpFactorRepository } from './ports/second-factor.js';
import type { SessionRepository } from './ports/sessions.js';
import type { SigningKeyRepository } from './ports/signing-keys.js';
import type { UserRepository } from './ports/users.js';

export * from './ports/users.js';
export * from './ports/sessions.js';
export * from './ports/rate-limits.js';
export * from './ports/audit.js';
export * from './ports/outbox.js';
export * from './ports/one-time-tokens.js';
export * from './ports/signing-keys.js';
export * from './ports/refresh-tokens.js';
export * from './ports/second-factor.js';

export interface Repositories {
  users: UserRepository;
  sessions: SessionRepository;
  rateLimits: RateLimitRepository;
  securityEvents: SecurityEventRepository;
  outbox: OutboxRepository;
  resetTokens: OneTimeTokenRepository;
  verificationTokens: OneTimeTokenRepository;
  /** The links in email-change notices that put the old address back. */
  emailRevertTokens: OneTimeTokenRepository;
  signingKeys: SigningKeyRepository;
  refreshTokens: RefreshTokenRepository;
  totpFactors: TotpFactorRepository;
  recoveryCodes: RecoveryCodeRepository;
  mfaChallenges: MfaChallengeRepository;
}

/** Repositories, plus a way to run several writes as one transaction. */
export interface Store extends Repositories {
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
}
