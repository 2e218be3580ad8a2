import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // The retention pruning deletes messages by when they were queued (MAIL_RETENTION_DAYS).
  await db.schema.alterTable('mail_outbox', (table) => {
    table.index(['created_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('mail_outbox', (table) => {
    table.dropIndex(['created_at']);
  });
}
