import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('users', (table) => {
    // When the current email was verified (Unix milliseconds); null while it is not.
    table.bigInteger('email_verified_at').nullable();
    // When the password was last set. Null for accounts made before this
    // column whose password has not changed since: the time is not known.
    table.bigInteger('password_changed_at').nullable();
  });
  // Single-use email-verification tokens, like the reset tokens: only a
  // SHA-256 of each is kept. `email` is the address the link was sent to; it
  // verifies only while the account still has that address.
  await db.schema.createTable('email_verification_tokens', (table) => {
    table.increments('id').primary();
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('email', 254).notNullable();
    table.string('token_hash', 64).notNullable().unique();
    table.bigInteger('expires_at').notNullable(); // Unix milliseconds
    table.bigInteger('used_at').nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['user_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('email_verification_tokens');
  await db.schema.alterTable('users', (table) => {
    table.dropColumn('password_changed_at');
    table.dropColumn('email_verified_at');
  });
}
