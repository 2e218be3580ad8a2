import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
//
// Deleting a user used to renumber every later position, so the listing's
// pages stayed index seeks: among 100,000 users that cost up to 0.4 s on
// SQLite and 4.3 s on PostgreSQL per deletion (bench/README.md). Now
// positions only grow and deletions leave gaps; users are counted in blocks
// of 128 positions, each block knowing how many live users come before it.
// A page finds its block by that count (an index seek) and walks at most
// 127 positions into it; a deletion updates one number per later block.
// The block size is fixed in src/storage/reads.ts (USER_BLOCK_SIZE).
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('user_blocks', (table) => {
    table.bigInteger('block').primary(); // position / 128, rounded down
    table.bigInteger('live').notNullable(); // users in the block; a block with none has no row
    table.bigInteger('before').notNullable(); // users in all earlier blocks
    table.index(['before']);
  });
  await db.raw(
    'INSERT INTO user_blocks (block, live, before) SELECT position / 128, count(*), 0 FROM users GROUP BY position / 128',
  );
  await db.raw(
    `UPDATE user_blocks SET before = sums.before
     FROM (SELECT block, sum(live) OVER (ORDER BY block) - live AS before FROM user_blocks) AS sums
     WHERE user_blocks.block = sums.block`,
  );
  // Positions come from a counter of their own: the users counter is the
  // count, which deletions lower.
  const [{ highest }] = await db('users').max<{ highest: number | string | null }[]>({ highest: 'position' });
  await db('counters').insert({ name: 'user_positions', value: Number(highest ?? 0) });
}

export async function down(db: Knex): Promise<void> {
  await db('counters').where({ name: 'user_positions' }).delete();
  await db.schema.dropTable('user_blocks');
}
