// Opens the Knex connection for the configured database and runs migrations.
import knex, { type Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseConfig } from '../config.js';
import { migrationSource } from './migrations/index.js';

export function openDatabase(config: DatabaseConfig): Knex {
  if (config.client === 'postgres') {
    return knex({ client: 'pg', connection: config.connectionString, pool: { min: 0, max: 10 } });
  }
  if (config.filename !== ':memory:') mkdirSync(dirname(config.filename), { recursive: true });
  return knex({
    client: 'sqlite3',
    connection: { filename: config.filename },
    useNullAsDefault: true,
    // One connection: SQLite serializes writers anyway, and an in-memory
    // database exists only inside the connection that made it.
    pool: {
      min: 1,
      max: 1,
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: unknown) => void) {
        connection.exec(
          'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
          (error) => done(error, connection),
        );
      },
    },
  });
}

interface SqliteConnection {
  exec(sql: string, callback: (error: Error | null) => void): void;
}

export async function migrateToLatest(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

/** True when every known migration has been applied. */
export async function isMigrated(db: Knex): Promise<boolean> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
  return pending.length === 0;
}
