import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // Where each session started, for the user's own list of sessions. Null
  // for sessions from before this migration.
  await db.schema.alterTable('sessions', (table) => {
    table.string('address', 64).nullable();
    table.string('user_agent', 256).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('sessions', (table) => {
    table.dropColumn('user_agent');
    table.dropColumn('address');
  });
}
