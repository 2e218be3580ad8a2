import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // One row per counted event (a failed login, a registration), per bucket and
  // key (an email or a client address); counted over a sliding window.
  await db.schema.createTable('rate_limit_events', (table) => {
    table.increments('id').primary();
    table.string('bucket', 32).notNullable();
    table.string('key', 320).notNullable();
    table.bigInteger('occurred_at').notNullable(); // Unix milliseconds
    table.index(['bucket', 'key', 'occurred_at']);
    table.index(['occurred_at']);
  });
  await db.schema.createTable('security_events', (table) => {
    table.increments('id').primary();
    table.string('type', 40).notNullable();
    table.integer('user_id').nullable(); // whose account; no foreign key: the trail outlives what it records
    table.integer('actor_id').nullable(); // who acted, when not the account's owner (an admin creating it)
    table.string('address', 64).nullable();
    table.string('request_id', 64).nullable();
    table.bigInteger('occurred_at').notNullable(); // Unix milliseconds
    table.index(['occurred_at']);
    table.index(['user_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('security_events');
  await db.schema.dropTable('rate_limit_events');
}
