import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
//
// The listing pages through users in id order. With LIMIT/OFFSET the database
// walks past every earlier row, so the last page of 100,000 users cost far
// more than the first. Each user now has a dense position (1, 2, 3, ... in id
// order), so any page is an index seek; and the count is kept in a counter row
// updated in the same transaction as every insert, so total_users is exact
// without counting the table on every request. Users are never deleted; a
// future delete must renumber positions.
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('counters', (table) => {
    table.string('name', 32).primary();
    table.bigInteger('value').notNullable();
  });
  await db.schema.alterTable('users', (table) => {
    table.bigInteger('position').nullable();
  });
  await db.raw(
    `UPDATE users SET position = ranked.rank
     FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM users) AS ranked
     WHERE users.id = ranked.id`,
  );
  const [{ total }] = await db('users').count<{ total: number | string }[]>({ total: '*' });
  await db('counters').insert({ name: 'users', value: Number(total) });
  await db.schema.alterTable('users', (table) => {
    table.unique(['position']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('users', (table) => {
    table.dropUnique(['position']);
  });
  await db.schema.alterTable('users', (table) => {
    table.dropColumn('position');
  });
  await db.schema.dropTable('counters');
}
