import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // Bumped by every change of credential (password change, reset): a session
  // is inserted only while the generation its login read is still current.
  await db.schema.alterTable('users', (table) => {
    table.integer('credential_generation').notNullable().defaultTo(0);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('users', (table) => {
    table.dropColumn('credential_generation');
  });
}
