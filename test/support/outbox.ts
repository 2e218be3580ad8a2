// Reading links out of the mail outbox (the embedded default: no SMTP_URL).
import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';

/** The id of the newest message in the outbox, or 0. */
export async function lastOutboxId(db: Knex): Promise<number> {
  return Number((await db('mail_outbox').max({ id: 'id' }))[0].id ?? 0);
}

/**
 * The token in the newest message to `recipient` with `subject` queued after
 * outbox id `after`, waiting for it up to 5 s (reset mail is queued after
 * the answer).
 */
export async function tokenFromOutbox(db: Knex, recipient: string, subject: string, after = 0): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const row = await db('mail_outbox')
      .where({ recipient, subject })
      .andWhere('id', '>', after)
      .orderBy('id', 'desc')
      .first<{ text_body: string } | undefined>('text_body');
    if (row) return /token=([A-Za-z0-9_-]+)/.exec(row.text_body)![1];
    await sleep(20);
  }
  throw new Error(`no "${subject}" mail for ${recipient}`);
}
