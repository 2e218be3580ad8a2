import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // The keys access tokens are signed with (ES256), shared by every instance
  // on the database. The private key is encrypted with SIGNING_KEYS_SECRET,
  // so a copy of the database alone signs nothing.
  await db.schema.createTable('signing_keys', (table) => {
    table.string('kid', 64).primary();
    table.string('algorithm', 16).notNullable();
    table.text('public_jwk').notNullable(); // JSON
    table.text('private_key').notNullable(); // AES-256-GCM: iv.tag.ciphertext, base64url
    table.bigInteger('created_at').notNullable(); // Unix milliseconds
    table.bigInteger('signs_from').notNullable(); // tokens are signed with it from then on
    table.bigInteger('retired_at').nullable(); // tokens of a retired key are refused
  });
  // Taken (updated in place) by whoever adds or retires a key, so two
  // instances starting at once don't both make a first key.
  await db('counters').insert({ name: 'signing_keys', value: 0 });
  // Every refresh token a session was given, by hash: the newest one works
  // once; an older one presented again is reuse, and ends the session. No
  // foreign key: a token works only while its session row exists, and the
  // pruning removes those left behind. A cascade would make deleting a
  // session lock its tokens after the session, the reverse of a refresh,
  // and the two could deadlock on PostgreSQL.
  await db.schema.createTable('refresh_tokens', (table) => {
    table.string('token_hash', 64).primary(); // SHA-256, hex
    table.string('session_id', 64).notNullable();
    table.bigInteger('created_at').notNullable(); // Unix milliseconds
    table.bigInteger('used_at').nullable(); // when it was exchanged for the next one
    table.string('used_address', 64).nullable(); // who exchanged it, to tell a client's own
    table.string('used_user_agent', 256).nullable(); // retry from reuse by someone else
    table.index(['session_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('refresh_tokens');
  await db('counters').where({ name: 'signing_keys' }).delete();
  await db.schema.dropTable('signing_keys');
}
