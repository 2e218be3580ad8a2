// The keys access tokens are signed with (see src/domain/signing-keys.ts).
import type { Knex } from 'knex';
import type { SigningKeyRepository, SigningKeyRow } from '../../domain/ports.js';
import { lockCounter, nullableNumber } from '../sql.js';

export function signingKeyRepository(db: Knex | Knex.Transaction): SigningKeyRepository {
  return {
    async list() {
      const rows = await db('signing_keys').orderBy('signs_from').orderBy('kid').select<SigningKeyRow[]>('*');
      return rows.map((row) => ({
        ...row,
        created_at: Number(row.created_at),
        signs_from: Number(row.signs_from),
        retired_at: nullableNumber(row.retired_at),
        standby: Boolean(row.standby), // SQLite answers 0 or 1
      }));
    },

    async lock() {
      await lockCounter(db, 'signing_keys');
    },

    async schedule(kid: string, signsFrom: number) {
      await db('signing_keys').where({ kid }).whereNull('retired_at').update({ signs_from: signsFrom, standby: false });
    },

    async insert(key: SigningKeyRow) {
      await db('signing_keys').insert(key);
    },

    async retire(kid: string, nowMs: number) {
      return (await db('signing_keys').where({ kid }).whereNull('retired_at').update({ retired_at: nowMs })) > 0;
    },
  };
}
