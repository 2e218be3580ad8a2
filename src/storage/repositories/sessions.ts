// The sessions table: one row per signed-in device, opened only from the current credentials.
import type { Knex } from 'knex';
import type { SessionRecord, SessionRepository, SessionRow } from '../../domain/ports.js';
import { type HotReads, rowsOf } from '../reads.js';
import { isPostgres } from '../sql.js';

// Knex builds no `insert … select … returning` on SQLite, so this one is
// written out. On PostgreSQL the user's row is share-locked: a password change
// that has updated it but not yet committed makes the insert wait and then
// see the new generation, so it can't slip in behind the change's delete.
// SQLite has one writer at a time, so the question can't arise there.
const insertSessionIfGenerationSql = (onPostgres: boolean) =>
  'insert into sessions (id, user_id, expires_at, created_at, address, user_agent, amr, authenticated_at) ' +
  'select cast(? as varchar(64)), id, cast(? as bigint), cast(? as bigint), cast(? as varchar(64)), cast(? as varchar(256)), ' +
  'cast(? as varchar(64)), cast(? as bigint) ' +
  'from users ' +
  `where id = ? and credential_generation = ? and disabled_at is null${onPostgres ? ' for share' : ''} returning id`;

export function sessionRepository(db: Knex | Knex.Transaction, reads: HotReads): SessionRepository {
  const insertIfGenerationSql = insertSessionIfGenerationSql(isPostgres(db));
  return {
    async insert(session: SessionRow, generation: number) {
      // One statement: the row exists only if the generation was current when it was written.
      const inserted = rowsOf<{ id: string }>(
        await db.raw(insertIfGenerationSql, [
          session.id,
          session.expires_at,
          Date.now(),
          session.address,
          session.user_agent,
          session.amr,
          session.authenticated_at,
          session.user_id,
          generation,
        ]),
      );
      return inserted.length > 0;
    },

    async findOpen(id: string, nowSeconds: number) {
      const row = await db('sessions')
        .where({ id })
        .andWhere('expires_at', '>', nowSeconds)
        .first<
          { user_id: number; expires_at: number | string; amr: string; authenticated_at: number | string } | undefined
        >('user_id', 'expires_at', 'amr', 'authenticated_at');
      return (
        row && {
          user_id: Number(row.user_id),
          expires_at: Number(row.expires_at),
          amr: row.amr,
          authenticated_at: Number(row.authenticated_at),
        }
      );
    },

    async renewAuthentication(id: string, nowMs: number, amr: string) {
      return (await db('sessions').where({ id }).update({ authenticated_at: nowMs, amr })) > 0;
    },

    async findActive(id: string, nowSeconds: number) {
      return reads.findActiveSession(id, nowSeconds);
    },

    async findActiveWithProfile(id: string, nowSeconds: number, profileId: number) {
      return reads.findActiveSessionWithProfile(id, nowSeconds, profileId);
    },

    async listOfUser(userId: number, nowSeconds: number, limit: number) {
      const rows = await db('sessions')
        .where({ user_id: userId })
        .andWhere('expires_at', '>', nowSeconds)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit)
        .select<SessionRecord[]>('id', 'created_at', 'expires_at', 'address', 'user_agent', 'amr', 'authenticated_at');
      return rows.map((row) => ({
        ...row,
        created_at: Number(row.created_at),
        expires_at: Number(row.expires_at),
        authenticated_at: Number(row.authenticated_at),
      }));
    },

    async delete(id: string) {
      return (await db('sessions').where({ id }).delete()) > 0;
    },

    async deleteOfUser(id: string, userId: number) {
      return (await db('sessions').where({ id, user_id: userId }).delete()) > 0;
    },

    async deleteOthersOfUser(userId: number, keepSessionId: string) {
      return db('sessions').where({ user_id: userId }).andWhereNot({ id: keepSessionId }).delete();
    },

    async deleteAllOfUser(userId: number) {
      return db('sessions').where({ user_id: userId }).delete();
    },

    async deleteExpired(nowSeconds: number) {
      return db('sessions').where('expires_at', '<=', nowSeconds).delete();
    },

    async countActive(nowSeconds: number) {
      const [row] = await db('sessions')
        .where('expires_at', '>', nowSeconds)
        .count<{ total: number | string }[]>({ total: '*' });
      return Number(row.total);
    },
  };
}
