// Refresh tokens by hash: the newest of a session works once.
import type { Knex } from 'knex';
import type { RefreshTokenRepository, RefreshTokenRow, UsedRefreshToken } from '../../domain/ports.js';

export function refreshTokenRepository(db: Knex | Knex.Transaction): RefreshTokenRepository {
  return {
    async insert(token: RefreshTokenRow) {
      await db('refresh_tokens').insert(token);
    },

    async use(tokenHash: string, nowMs: number, by: { address: string; userAgent: string | null }) {
      const [row] = await db('refresh_tokens')
        .where({ token_hash: tokenHash })
        .whereNull('used_at')
        .update({ used_at: nowMs, used_address: by.address, used_user_agent: by.userAgent })
        .returning<{ session_id: string }[]>('session_id');
      return row?.session_id;
    },

    async findUsed(tokenHash: string) {
      const row = await db('refresh_tokens')
        .where({ token_hash: tokenHash })
        .whereNotNull('used_at')
        .first<(Omit<UsedRefreshToken, 'used_at'> & { used_at: number | string }) | undefined>(
          'session_id',
          'used_at',
          'used_address',
          'used_user_agent',
        );
      return row && { ...row, used_at: Number(row.used_at) };
    },

    async deleteOrphaned() {
      return db('refresh_tokens')
        .whereNotExists(db('sessions').select(db.raw('1')).where('sessions.id', db.ref('refresh_tokens.session_id')))
        .delete();
    },
  };
}
