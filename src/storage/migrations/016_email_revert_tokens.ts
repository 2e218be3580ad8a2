import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // The links in email-change notices: each puts back the address it was
  // mailed to (`email`, the old one) and ends every session. A later change
  // does not void an earlier one's link (someone holding the account could
  // otherwise change the address twice to void the owner's); using one voids
  // them all. Only a SHA-256 of each token is kept.
  await db.schema.createTable('email_revert_tokens', (table) => {
    table.increments('id').primary();
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('token_hash', 64).notNullable().unique();
    table.string('email', 254).notNullable();
    table.bigInteger('expires_at').notNullable(); // Unix milliseconds
    table.bigInteger('used_at').nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['user_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('email_revert_tokens');
}
