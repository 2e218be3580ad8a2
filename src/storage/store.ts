// The store: the domain's repositories on one Knex connection, and
// transactions over them. Each repository is a file in repositories/. Every
// query is built by Knex or is a constant there, always with bound
// parameters; no SQL is assembled from values.
import type { Knex } from 'knex';
import type { Repositories, Store } from '../domain/ports.js';
import { type HotReads, knexReads } from './reads.js';
import { oneTimeTokenRepository } from './repositories/one-time-tokens.js';
import { outboxRepository } from './repositories/outbox.js';
import { rateLimitRepository } from './repositories/rate-limits.js';
import { refreshTokenRepository } from './repositories/refresh-tokens.js';
import { mfaChallengeRepository, recoveryCodeRepository, totpFactorRepository } from './repositories/second-factor.js';
import { securityEventRepository } from './repositories/security-events.js';
import { sessionRepository } from './repositories/sessions.js';
import { signingKeyRepository } from './repositories/signing-keys.js';
import { userRepository } from './repositories/users.js';

/**
 * The repositories on `db`, with the hot reads through `reads` (see
 * reads.ts). Inside a transaction they run on the transaction, which must
 * see its own uncommitted writes.
 */
export function createStore(db: Knex, reads: HotReads = knexReads(db)): Store {
  return {
    ...repositoriesOn(db, reads),
    async transaction(work) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await db.transaction((trx) => work(repositoriesOn(trx, knexReads(trx))));
        } catch (error) {
          // The lock orders are chosen so that transactions don't end each
          // other; this is the net under them. Rolled back whole, a
          // transaction can run again.
          if (!isLockConflict(error) || attempt === LOCK_CONFLICT_ATTEMPTS) throw error;
        }
      }
    },
  };
}

const LOCK_CONFLICT_ATTEMPTS = 3;

/**
 * PostgreSQL ended this transaction as a deadlock victim (40P01); or SQLite
 * refused it a write lock: a transaction that read before another connection
 * wrote can't start writing (SQLITE_BUSY at once, whatever busy_timeout
 * says). Transactions here write before they read; this catches one that
 * doesn't.
 */
function isLockConflict(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === '40P01' || code === 'SQLITE_BUSY';
}

function repositoriesOn(db: Knex | Knex.Transaction, reads: HotReads): Repositories {
  return {
    users: userRepository(db, reads),
    sessions: sessionRepository(db, reads),
    rateLimits: rateLimitRepository(db),
    securityEvents: securityEventRepository(db),
    outbox: outboxRepository(db),
    resetTokens: oneTimeTokenRepository(db, 'password_reset_tokens'),
    verificationTokens: oneTimeTokenRepository(db, 'email_verification_tokens'),
    emailRevertTokens: oneTimeTokenRepository(db, 'email_revert_tokens'),
    signingKeys: signingKeyRepository(db),
    refreshTokens: refreshTokenRepository(db),
    totpFactors: totpFactorRepository(db),
    recoveryCodes: recoveryCodeRepository(db),
    mfaChallenges: mfaChallengeRepository(db),
  };
}
