import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // A standby key is published but signs only when promoted: by a rotation,
  // or at once when the signing key is retired, so every verifier already
  // holds the key that takes over. Its signs_from is the earliest moment it
  // may sign with every cached JWKS holding it.
  await db.schema.alterTable('signing_keys', (table) => {
    table.boolean('standby').notNullable().defaultTo(false);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('signing_keys', (table) => {
    table.dropColumn('standby');
  });
}
