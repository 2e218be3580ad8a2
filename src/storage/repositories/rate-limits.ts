// Sliding-window limits: one event row per request counted, shared by every process.
import type { Knex } from 'knex';
import type { LimitClaim, RateLimitRepository, Reservation } from '../../domain/ports.js';
import { isPostgres } from '../sql.js';

export function rateLimitRepository(db: Knex | Knex.Transaction): RateLimitRepository {
  const onPostgres = isPostgres(db);
  return {
    async reserve(claims: LimitClaim[], nowMs: number): Promise<Reservation> {
      if (claims.length === 0) return { granted: true, eventIds: [], filledALimit: false };
      try {
        return await db.transaction(async (trx) => {
          if (onPostgres) {
            // Claims on one key take turns until commit. SQLite needs no lock:
            // the first insert below takes its single write lock.
            const keys = [...new Set(claims.map(({ bucket, key }) => `${bucket}:${key}`))].sort();
            for (const key of keys) await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
          }
          const eventIds: number[] = [];
          for (const { bucket, key, forGood } of claims) {
            const [row] = await trx('rate_limit_events')
              .insert({ bucket, key, occurred_at: nowMs })
              .returning<{ id: number }[]>('id');
            if (!forGood) eventIds.push(Number(row.id));
          }
          let retryAfterMs = 0;
          let filledALimit = false;
          for (const { bucket, key, limit, windowMs } of claims) {
            const since = nowMs - windowMs;
            const count = await countSince(trx, bucket, key, since);
            if (count === limit) filledALimit = true;
            if (count > limit) {
              // Full: a place frees up when the event `count - limit` from the
              // oldest (this request's own is the newest) leaves the window.
              const freeing = await trx('rate_limit_events')
                .where({ bucket, key })
                .andWhere('occurred_at', '>', since)
                .orderBy('occurred_at')
                .offset(count - limit - 1)
                .first<{ occurred_at: number | string } | undefined>('occurred_at');
              retryAfterMs = Math.max(retryAfterMs, Number(freeing?.occurred_at ?? nowMs) + windowMs - nowMs, 1);
            }
          }
          if (retryAfterMs > 0) throw new LimitFull(retryAfterMs);
          return { granted: true as const, eventIds, filledALimit };
        });
      } catch (error) {
        if (error instanceof LimitFull) return { granted: false, retryAfterMs: error.retryAfterMs };
        throw error;
      }
    },

    async release(eventIds: number[]) {
      if (eventIds.length > 0) await db('rate_limit_events').whereIn('id', eventIds).delete();
    },

    async deleteKey(bucket: string, key: string) {
      await db('rate_limit_events').where({ bucket, key }).delete();
    },

    async deleteKeysOfEmail(email: string) {
      const withAddress = `${email} `;
      await db('rate_limit_events')
        .where({ key: email })
        // substr, not LIKE: an email may hold % and _.
        .orWhereRaw('substr(key, 1, ?) = ?', [withAddress.length, withAddress])
        .delete();
    },

    async deleteOlderThan(atMs: number) {
      return db('rate_limit_events').where('occurred_at', '<=', atMs).delete();
    },
  };
}

async function countSince(db: Knex | Knex.Transaction, bucket: string, key: string, sinceMs: number): Promise<number> {
  const [row] = await db('rate_limit_events')
    .where({ bucket, key })
    .andWhere('occurred_at', '>', sinceMs)
    .count<{ count: number | string }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}

/** Rolls a reservation back: some limit had no place left. */
class LimitFull extends Error {
  constructor(readonly retryAfterMs: number) {
    super('limit full');
  }
}
