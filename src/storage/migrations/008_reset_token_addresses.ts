import type { Knex } from 'knex';

// Written once, never edited: later changes get a migration of their own.
export async function up(db: Knex): Promise<void> {
  // The address a reset link was mailed to: a reset works only while the
  // account still has it, so a link can't outlive an email change (however
  // the two race) and a reset proves that address. Pending links get the
  // account's current address; new ones always name theirs.
  await db.schema.alterTable('password_reset_tokens', (table) => {
    table.string('email', 254).nullable();
  });
  await db('password_reset_tokens').update({
    email: db('users').select('email').where('users.id', db.ref('password_reset_tokens.user_id')),
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('password_reset_tokens', (table) => {
    table.dropColumn('email');
  });
}
