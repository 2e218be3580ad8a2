import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // The transactional outbox: a message is written in the same transaction
  // as what it announces (a reset token, say) and delivered afterwards, with
  // retries, by whichever process claims it first.
  await db.schema.createTable('mail_outbox', (table) => {
    table.increments('id').primary();
    table.string('recipient', 254).notNullable();
    table.string('subject', 200).notNullable();
    table.text('text_body').notNullable();
    table.text('html_body').notNullable();
    table.bigInteger('created_at').notNullable(); // Unix milliseconds
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable(); // not before this
    table.bigInteger('claimed_until').nullable(); // a sender is delivering it until then
    table.bigInteger('sent_at').nullable();
    table.string('last_error', 200).nullable();
    table.index(['sent_at', 'next_attempt_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('mail_outbox');
}
