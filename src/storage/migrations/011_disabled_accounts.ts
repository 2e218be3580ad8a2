import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // When an admin disabled the account (Unix milliseconds); null while it is enabled.
  await db.schema.alterTable('users', (table) => {
    table.bigInteger('disabled_at').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('users', (table) => {
    table.dropColumn('disabled_at');
  });
}
