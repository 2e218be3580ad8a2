// npm run seed -- --users N: adds N users to the database in DATABASE_URL
// (migrating it first), fast: one precomputed argon2id hash for all of them and
// bulk inserts in batches. Every seeded user's password is SEED_PASSWORD.
// With --delete-every K, every K-th user is then deleted as an admin would
// (the erasure path), leaving gaps as real deletions do (the bench's data).
import argon2 from 'argon2';
import { parseArgs } from 'node:util';
import { openDomain } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { ARGON2_OPTIONS } from '../src/domain/passwords.js';
import { migrateToLatest, openDatabase } from '../src/storage/database.js';
import { nextUserPosition, userNameKey } from '../src/storage/repositories/users.js';

export const SEED_PASSWORD = 'seed-password-123';
const BATCH = 5000; // rows per transaction
const ROWS_PER_STATEMENT = 250;

export async function seedUsers(databaseUrl: string | undefined, count: number, report = console.log): Promise<void> {
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl ?? process.env.DATABASE_URL,
    JWT_SECRET: 'x'.repeat(32),
    SIGNING_KEYS_SECRET: 'x'.repeat(32),
  });
  const db = openDatabase(config.database);
  try {
    await migrateToLatest(db);
    const passwordHash = await argon2.hash(SEED_PASSWORD, ARGON2_OPTIONS);
    const started = Date.now();
    let done = 0;
    while (done < count) {
      const size = Math.min(BATCH, count - done);
      await db.transaction(async (trx) => {
        const first = await nextUserPosition(trx, size);
        const now = Date.now();
        const rows = Array.from({ length: size }, (_, i) => {
          const n = first + i;
          const userName = `seed.user.${n}`;
          return {
            email: `seed.user.${n}@example.com`,
            user_name: userName,
            user_name_key: userNameKey(userName),
            first_name: 'Seed',
            last_name: `User ${n}`,
            role: 'user',
            password_hash: passwordHash,
            position: n,
            created_at: now,
            updated_at: now,
          };
        });
        // SQLite takes at most 500 rows in one multi-row INSERT (Knex writes it as a compound SELECT).
        for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT)
          await trx('users').insert(rows.slice(i, i + ROWS_PER_STATEMENT));
      });
      done += size;
      if (done === count || done % (BATCH * 4) === 0) {
        const rate = Math.round(done / ((Date.now() - started) / 1000));
        report(
          `  seeded ${done.toLocaleString('en')} / ${count.toLocaleString('en')} users (${rate.toLocaleString('en')}/s)`,
        );
      }
    }
  } finally {
    await db.destroy();
  }
}

/**
 * Deletes every `every`-th of the first `count` users through the erasure
 * path. The domain opens with the settings in the environment
 * (SIGNING_KEYS_SECRET: the service that later serves this data must open
 * the signing key made here).
 */
export async function deleteEvery(databaseUrl: string | undefined, count: number, every: number): Promise<void> {
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl ?? process.env.DATABASE_URL });
  const domain = await openDomain({ ...config, bootstrapAdmin: undefined }, createLogger('silent'));
  try {
    const started = Date.now();
    const origin = { address: 'seed', requestId: 'seed' };
    for (let id = every; id <= count; id += every) await domain.administration.delete(undefined, id, origin);
    console.log(
      `  deleted ${Math.floor(count / every).toLocaleString('en')} in ${Math.round((Date.now() - started) / 1000)} s`,
    );
  } finally {
    await domain.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { users: { type: 'string' }, database: { type: 'string' }, 'delete-every': { type: 'string' } },
  });
  const count = Number(values.users);
  const every = values['delete-every'] === undefined ? undefined : Number(values['delete-every']);
  if (!Number.isInteger(count) || count < 1 || (every !== undefined && (!Number.isInteger(every) || every < 2))) {
    console.error(
      'Usage: npm run seed -- --users N [--delete-every K] [--database sqlite:PATH|postgres://…]  (default: DATABASE_URL)',
    );
    process.exit(2);
  }
  console.log(`Seeding ${count.toLocaleString('en')} users (password: ${SEED_PASSWORD})`);
  await seedUsers(values.database, count);
  if (every !== undefined) {
    console.log(`Deleting every ${every}th through the erasure path`);
    await deleteEvery(values.database, count, every);
  }
}
