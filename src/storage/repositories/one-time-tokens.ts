// Single-use tokens sent by mail (password reset, email verification), stored as hashes.
import type { Knex } from 'knex';
import type { OneTimeTokenRepository, OneTimeTokenRow } from '../../domain/ports.js';

/** A table of single-use tokens (the reset and the verification tokens share one shape). */
export function oneTimeTokenRepository(db: Knex | Knex.Transaction, table: string): OneTimeTokenRepository {
  return {
    async insert(token: OneTimeTokenRow) {
      await db(table).insert(token);
    },

    async findUsable(tokenHash: string, nowMs: number) {
      const row = await db(table)
        .where({ token_hash: tokenHash })
        .whereNull('used_at')
        .andWhere('expires_at', '>', nowMs)
        .first<{ id: number; user_id: number; email: string } | undefined>('id', 'user_id', 'email');
      return row && { id: Number(row.id), user_id: Number(row.user_id), email: row.email };
    },

    async consume(id: number, nowMs: number) {
      const updated = await db(table)
        .where({ id })
        .whereNull('used_at')
        .andWhere('expires_at', '>', nowMs)
        .update({ used_at: nowMs });
      return updated > 0;
    },

    async deleteAllOfUser(userId: number) {
      await db(table).where({ user_id: userId }).delete();
    },
  };
}
