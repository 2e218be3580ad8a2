// The mail outbox: messages queued in the transaction that wants them sent, and claimed by one sender at a time.
import type { Knex } from 'knex';
import type { OutboxClaim, OutboxRepository, OutgoingMail, QueuedMail } from '../../domain/ports.js';
import { isPostgres } from '../sql.js';

interface OutboxRow {
  id: number;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: number | string;
  attempts: number;
  sent_at: number | string | null;
  last_error: string | null;
}

const queuedMail = (row: OutboxRow): QueuedMail => ({
  id: Number(row.id),
  to: row.recipient,
  subject: row.subject,
  text: row.text_body,
  html: row.html_body,
  createdAt: Number(row.created_at),
  attempts: Number(row.attempts),
  sentAt: row.sent_at === null ? null : Number(row.sent_at),
  lastError: row.last_error,
});

export function outboxRepository(db: Knex | Knex.Transaction): OutboxRepository {
  const onPostgres = isPostgres(db);
  const whereClaimed = ({ id, attempts }: OutboxClaim) =>
    db('mail_outbox').where({ id, attempts }).whereNull('sent_at');
  return {
    async enqueue(mail: OutgoingMail, nowMs: number) {
      const [row] = await db('mail_outbox')
        .insert({
          recipient: mail.to,
          subject: mail.subject,
          text_body: mail.text,
          html_body: mail.html,
          created_at: nowMs,
          next_attempt_at: nowMs,
        })
        .returning<{ id: number }[]>('id');
      return Number(row.id);
    },

    async claimDue(nowMs: number, leaseMs: number, limit: number) {
      // One statement: the claim is atomic on SQLite (one writer at a time);
      // on PostgreSQL, SKIP LOCKED lets senders in other processes take other rows.
      const due = db('mail_outbox')
        .select('id')
        .whereNull('sent_at')
        .andWhere('next_attempt_at', '<=', nowMs)
        .andWhereRaw('(claimed_until is null or claimed_until < ?)', [nowMs])
        .orderBy('id')
        .limit(limit);
      const rows = await db('mail_outbox')
        .whereIn('id', onPostgres ? due.forUpdate().skipLocked() : due)
        .update({ claimed_until: nowMs + leaseMs, attempts: db.raw('attempts + 1') })
        .returning<OutboxRow[]>('*');
      return rows.map(queuedMail).sort((a, b) => a.id - b.id);
    },

    async markSent(claim: OutboxClaim, nowMs: number) {
      const updated = await whereClaimed(claim).update({ sent_at: nowMs, claimed_until: null, last_error: null });
      return updated === 1;
    },

    async deleteTo(recipient: string) {
      await db('mail_outbox').where({ recipient }).delete();
    },

    async deleteCreatedBefore(atMs: number) {
      return db('mail_outbox').where('created_at', '<', atMs).delete();
    },

    async markFailed(claim: OutboxClaim, nextAttemptAt: number, error: string) {
      const updated = await whereClaimed(claim).update({
        next_attempt_at: nextAttemptAt,
        claimed_until: null,
        last_error: error.slice(0, 200),
      });
      return updated === 1;
    },

    async list(limit: number) {
      return (await db('mail_outbox').orderBy('id', 'desc').limit(limit).select<OutboxRow[]>('*')).map(queuedMail);
    },

    async find(id: number) {
      const row = await db('mail_outbox').where({ id }).first<OutboxRow | undefined>('*');
      return row && queuedMail(row);
    },
  };
}
