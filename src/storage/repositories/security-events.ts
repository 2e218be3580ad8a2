// The audit trail: one row per security-relevant event.
import type { Knex } from 'knex';
import type {
  SecurityEvent,
  SecurityEventRecord,
  SecurityEventRepository,
  SecurityEventType,
} from '../../domain/ports.js';
import { nullableNumber } from '../sql.js';

export function securityEventRepository(db: Knex | Knex.Transaction): SecurityEventRepository {
  return {
    async insert(event: SecurityEvent) {
      await db('security_events').insert({ ...event, occurred_at: Date.now() });
    },

    async list(filter: { userId?: number; type?: SecurityEventType }, offset: number, limit: number) {
      const matching = () =>
        db('security_events').where({
          ...(filter.userId === undefined ? {} : { user_id: filter.userId }),
          ...(filter.type === undefined ? {} : { type: filter.type }),
        });
      const rows = await matching()
        .orderBy('id', 'desc')
        .offset(offset)
        .limit(limit)
        .select<SecurityEventRecord[]>('id', 'type', 'user_id', 'actor_id', 'address', 'request_id', 'occurred_at');
      const [{ n }] = await matching().count<{ n: number | string }[]>({ n: '*' });
      const events = rows.map((row) => ({
        ...row,
        id: Number(row.id),
        occurred_at: Number(row.occurred_at),
        user_id: nullableNumber(row.user_id),
        actor_id: nullableNumber(row.actor_id),
      }));
      return { events, total: Number(n) };
    },

    async forgetAddressesOf(userId: number) {
      await db('security_events').where({ user_id: userId }).orWhere({ actor_id: userId }).update({ address: null });
    },

    async deleteOlderThan(atMs: number) {
      return db('security_events').where('occurred_at', '<', atMs).delete();
    },
  };
}
