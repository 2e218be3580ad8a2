import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('users', (table) => {
    table.increments('id').primary();
    table.string('email', 254).notNullable().unique(); // stored lower-case
    table.string('user_name', 32).notNullable(); // as the user wrote it
    table.string('user_name_key', 32).notNullable().unique(); // lower-case, for case-blind uniqueness
    table.string('first_name', 100).notNullable();
    table.string('last_name', 100).notNullable();
    table.enu('role', ['user', 'moderator', 'admin']).notNullable().defaultTo('user');
    table.string('password_hash', 255).notNullable();
    table.bigInteger('created_at').notNullable(); // Unix milliseconds
    table.bigInteger('updated_at').notNullable();
  });
  await db.schema.createTable('sessions', (table) => {
    table.string('id', 64).primary(); // the token's jti
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.bigInteger('expires_at').notNullable(); // Unix seconds, the token's exp
    table.bigInteger('created_at').notNullable();
    table.index(['user_id']);
    table.index(['expires_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('sessions');
  await db.schema.dropTable('users');
}
