// The database a test runs on. By default SQLite; with TEST_DATABASE=postgres,
// a fresh PostgreSQL database per test server, created through
// TEST_DATABASE_URL (a role allowed to create databases) and dropped after.
import knex, { type Knex } from 'knex';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Backend = 'sqlite' | 'postgres';
export const backend: Backend = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  /** A DATABASE_URL for the service. */
  url: string;
  drop(): Promise<void>;
}

let counter = 0;
const DROP_ATTEMPTS = 40; // an autovacuum after a big run (the delete bench) can take seconds
const DROP_RETRY_DELAY_MS = 500;

/**
 * A new, empty database. On SQLite, a file, as the service runs by default
 * (an in-memory database would take other read paths; see sqlite-reads.ts).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (backend === 'sqlite') {
    const folder = mkdtempSync(join(tmpdir(), 'user-service-test-'));
    return {
      url: `sqlite:${join(folder, 'users.sqlite')}`,
      drop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_DATABASE=postgres needs TEST_DATABASE_URL=postgres://user:pass@host:port/db');
  return createPostgresDatabase(adminUrl);
}

/** A connection of the test's own to a test database's `url`, to read what the service wrote there. */
export function connectTo(url: string): Knex {
  if (url.startsWith('sqlite:')) {
    return knex({ client: 'sqlite3', connection: { filename: url.slice('sqlite:'.length) }, useNullAsDefault: true });
  }
  return knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
}

/** A new, empty PostgreSQL database, made through `adminUrl` (a role allowed to create databases). */
export async function createPostgresDatabase(adminUrl: string): Promise<TestDatabase> {
  counter += 1;
  const name = `user_service_test_${process.pid}_${counter}_${Date.now() % 100_000}`;
  const admin = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw('CREATE DATABASE ??', [name]);
  } finally {
    await admin.destroy();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
      try {
        // FORCE ends the test's own sessions, but can't end a backend of a
        // superuser, such as an autovacuum worker that has just started on
        // the new database (42501); it finishes soon, so try again.
        for (let attempt = 1; ; attempt += 1) {
          try {
            await dropper.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
            break;
          } catch (error) {
            if ((error as { code?: string }).code !== '42501' || attempt === DROP_ATTEMPTS) throw error;
            await sleep(DROP_RETRY_DELAY_MS);
          }
        }
      } finally {
        await dropper.destroy();
      }
    },
  };
}
