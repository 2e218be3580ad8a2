import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // How and when each session's user proved who they are: the access
  // token's `amr` and `auth_time`, and what recent authentication is judged
  // by. Sessions from before count as a password login at their creation.
  await db.schema.alterTable('sessions', (table) => {
    table.string('amr', 64).notNullable().defaultTo('pwd'); // RFC 8176 values, space-separated
    table.bigInteger('authenticated_at').nullable(); // Unix milliseconds
  });
  await db('sessions').update({ authenticated_at: db.ref('created_at') });
  // An account's authenticator app. The secret is sealed (AES-256-GCM);
  // last_used_step is the newest RFC 6238 time step accepted, so a code is
  // accepted once (compare-and-set). Unconfirmed until a code proves the app.
  await db.schema.createTable('totp_factors', (table) => {
    table.integer('user_id').unsigned().primary().references('id').inTable('users').onDelete('CASCADE');
    table.text('secret').notNullable(); // sealed: iv.tag.ciphertext, base64url
    table.bigInteger('confirmed_at').nullable(); // Unix milliseconds; null while enrolling
    table.bigInteger('last_used_step').nullable();
    table.bigInteger('created_at').notNullable();
  });
  // Recovery codes, by SHA-256 only (each code holds 120 random bits).
  await db.schema.createTable('recovery_codes', (table) => {
    table.increments('id').primary();
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('code_hash', 64).notNullable();
    table.bigInteger('used_at').nullable();
    table.unique(['user_id', 'code_hash']);
  });
  // Logins waiting for their second factor, by the mfa_token's SHA-256.
  // Bound to the credential generation the password was checked against,
  // so a password change or reset voids them.
  await db.schema.createTable('mfa_challenges', (table) => {
    table.string('token_hash', 64).primary();
    table.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.integer('credential_generation').notNullable();
    table.string('amr', 64).notNullable(); // the factors proven so far
    table.integer('attempts').notNullable().defaultTo(0); // codes checked
    table.bigInteger('expires_at').notNullable(); // Unix milliseconds
    table.bigInteger('used_at').nullable();
    table.index(['user_id']);
    table.index(['expires_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('mfa_challenges');
  await db.schema.dropTable('recovery_codes');
  await db.schema.dropTable('totp_factors');
  await db.schema.alterTable('sessions', (table) => {
    table.dropColumn('authenticated_at');
    table.dropColumn('amr');
  });
}
