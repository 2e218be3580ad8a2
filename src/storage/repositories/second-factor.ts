// The second factor's tables: authenticator apps (totp_factors), recovery
// codes and logins waiting for a code (mfa_challenges). Every single-use
// rule is one conditional statement.
import type { Knex } from 'knex';
import type {
  MfaChallengeRepository,
  MfaChallengeRow,
  RecoveryCodeRepository,
  TotpFactorRepository,
  TotpFactorRow,
} from '../../domain/ports.js';

const FACTOR_COLUMNS = ['user_id', 'secret', 'confirmed_at', 'last_used_step'] as const;

/** A row with its numbers as numbers (PostgreSQL answers a bigint as a string). */
function factorOf(row: TotpFactorRow | undefined): TotpFactorRow | undefined {
  return (
    row && {
      user_id: Number(row.user_id),
      secret: row.secret,
      confirmed_at: row.confirmed_at === null ? null : Number(row.confirmed_at),
      last_used_step: row.last_used_step === null ? null : Number(row.last_used_step),
    }
  );
}

export function totpFactorRepository(db: Knex | Knex.Transaction): TotpFactorRepository {
  return {
    async find(userId) {
      return factorOf(
        await db('totp_factors')
          .where({ user_id: userId })
          .first<TotpFactorRow | undefined>(...FACTOR_COLUMNS),
      );
    },

    async findConfirmed(userId) {
      return factorOf(
        await db('totp_factors')
          .where({ user_id: userId })
          .whereNotNull('confirmed_at')
          .first<TotpFactorRow | undefined>(...FACTOR_COLUMNS),
      );
    },

    async startEnrollment(userId, sealedSecret, nowMs) {
      // A write first (the SQLite rule), and a confirmed factor is never replaced.
      const replaced = await db('totp_factors')
        .where({ user_id: userId })
        .whereNull('confirmed_at')
        .update({ secret: sealedSecret, last_used_step: null, created_at: nowMs });
      if (replaced > 0) return true;
      await db('totp_factors')
        .insert({ user_id: userId, secret: sealedSecret, confirmed_at: null, last_used_step: null, created_at: nowMs })
        .onConflict('user_id')
        .ignore();
      // Ignored when a confirmed factor holds the row (or another start won the race: the secret says which).
      const ours = await db('totp_factors')
        .where({ user_id: userId, secret: sealedSecret })
        .first<{ user_id: number } | undefined>('user_id');
      return ours !== undefined;
    },

    async useStep(userId, step, state) {
      const query = db('totp_factors')
        .where({ user_id: userId })
        .andWhere((where) => {
          void where.whereNull('last_used_step').orWhere('last_used_step', '<', step);
        });
      const inState = state === 'confirmed' ? query.whereNotNull('confirmed_at') : query.whereNull('confirmed_at');
      return (await inState.update({ last_used_step: step })) > 0;
    },

    async confirm(userId, nowMs) {
      return (
        (await db('totp_factors')
          .where({ user_id: userId })
          .whereNull('confirmed_at')
          .update({ confirmed_at: nowMs })) > 0
      );
    },

    async delete(userId) {
      return (await db('totp_factors').where({ user_id: userId }).delete()) > 0;
    },
  };
}

export function recoveryCodeRepository(db: Knex | Knex.Transaction): RecoveryCodeRepository {
  return {
    async replace(userId, codeHashes) {
      await db('recovery_codes').where({ user_id: userId }).delete();
      await db('recovery_codes').insert(codeHashes.map((code_hash) => ({ user_id: userId, code_hash, used_at: null })));
    },

    async use(userId, codeHash, nowMs) {
      const used = await db('recovery_codes')
        .where({ user_id: userId, code_hash: codeHash })
        .whereNull('used_at')
        .update({ used_at: nowMs });
      return used > 0;
    },

    async countUnused(userId) {
      const row = await db('recovery_codes')
        .where({ user_id: userId })
        .whereNull('used_at')
        .count({ count: '*' })
        .first();
      return Number(row?.count ?? 0);
    },

    async deleteAllOfUser(userId) {
      await db('recovery_codes').where({ user_id: userId }).delete();
    },
  };
}

const CHALLENGE_COLUMNS = ['token_hash', 'user_id', 'credential_generation', 'amr', 'expires_at'] as const;

export function mfaChallengeRepository(db: Knex | Knex.Transaction): MfaChallengeRepository {
  const usable = (tokenHash: string, nowMs: number) =>
    db('mfa_challenges').where({ token_hash: tokenHash }).whereNull('used_at').andWhere('expires_at', '>', nowMs);
  return {
    async insert(challenge) {
      await db('mfa_challenges').insert({ ...challenge, attempts: 0, used_at: null });
    },

    async takeAttempt(tokenHash, nowMs, maxAttempts) {
      const rows = await usable(tokenHash, nowMs)
        .andWhere('attempts', '<', maxAttempts)
        .increment('attempts', 1)
        .returning<MfaChallengeRow[]>([...CHALLENGE_COLUMNS]);
      const row = rows[0];
      return (
        row && {
          ...row,
          user_id: Number(row.user_id),
          credential_generation: Number(row.credential_generation),
          expires_at: Number(row.expires_at),
        }
      );
    },

    async consume(tokenHash, nowMs) {
      return (await usable(tokenHash, nowMs).update({ used_at: nowMs })) > 0;
    },

    async deleteExpired(nowMs) {
      return db('mfa_challenges').where('expires_at', '<=', nowMs).delete();
    },

    async deleteAllOfUser(userId) {
      await db('mfa_challenges').where({ user_id: userId }).delete();
    },
  };
}
