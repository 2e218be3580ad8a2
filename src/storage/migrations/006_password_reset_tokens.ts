import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // Single-use password-reset tokens; only a SHA-256 of each is kept, so a
  // copy of the database opens no account.
  await db.schema.createTable('password_reset_tokens', (table) => {
    table.increments('id').primary();
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('token_hash', 64).notNullable().unique();
    table.bigInteger('expires_at').notNullable(); // Unix milliseconds
    table.bigInteger('used_at').nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['user_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('password_reset_tokens');
}
