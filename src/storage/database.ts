// Opens the Knex connection for the configured database and runs migrations.
import knex, { type Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseConfig, PostgresConfig } from '../config.js';
import { migrationSource } from './migrations/index.js';
import { withinTime } from './time-limit.js';

export function openDatabase(config: DatabaseConfig): Knex {
  if (config.client === 'postgres') {
    return knex({
      client: 'pg',
      connection: pgConnection(config),
      pool: { min: 0, max: config.poolMax },
      // Waiting for a free connection is bounded too (Knex's default is 60 s).
      acquireConnectionTimeout: config.connectTimeoutMs + config.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    });
  }
  if (config.filename !== ':memory:') keepToOwner(config.filename);
  return knex({
    client: 'sqlite3',
    connection: { filename: config.filename },
    useNullAsDefault: true,
    // A file database in WAL mode serves readers in parallel, one connection
    // each (one connection made every token check wait in line: measured
    // about 700 req/s); writers still take turns, waiting up to busy_timeout.
    // An in-memory database exists only inside the connection that made it.
    pool: {
      min: 1,
      max: config.filename === ':memory:' ? 1 : SQLITE_FILE_CONNECTIONS,
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: unknown) => void) {
        // busy_timeout first: switching to WAL takes a lock, and a process starting
        // beside another (two instances on a fresh file) must wait for it, not fail.
        // Some of these locks SQLite answers SQLITE_BUSY at once, without its busy
        // handler (seen once in CI, a connection opened while another process
        // wrote): the settings are tried again for as long as busy_timeout.
        const givenUpAt = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
        const configure = () =>
          connection.exec(
            `PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;`,
            (error) => {
              const busy = (error as { code?: unknown } | null)?.code === 'SQLITE_BUSY';
              if (busy && Date.now() < givenUpAt) setTimeout(configure, 20);
              else done(error, connection);
            },
          );
        configure();
      },
    },
  });
}

const SQLITE_FILE_CONNECTIONS = 4;
const SQLITE_BUSY_TIMEOUT_MS = 5000;
const CLIENT_TIMEOUT_MARGIN_MS = 1000;

/**
 * How long the client waits for an answer: a little past statement_timeout,
 * which the server enforces but can't when it stops answering (a network
 * partition). 0 means no limit, as in PostgreSQL itself.
 */
export function clientTimeoutMs(config: PostgresConfig): number {
  return config.statementTimeoutMs > 0 ? config.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS : 0;
}

/** pg's connection settings, for Knex's pool and the hot reads' connection alike (postgres-pipeline.ts). */
export function pgConnection(config: PostgresConfig) {
  return {
    connectionString: config.connectionString,
    ...(config.statementTimeoutMs > 0
      ? { statement_timeout: config.statementTimeoutMs, query_timeout: clientTimeoutMs(config) }
      : {}),
    connectionTimeoutMillis: config.connectTimeoutMs,
  };
}

/** The database, named for messages: host, port and database, never the password. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.client === 'sqlite') return `SQLite ${config.filename}`;
  try {
    const url = new URL(config.connectionString);
    return `PostgreSQL ${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

const OWNER_ONLY_FOLDER = 0o700;
const OWNER_ONLY_FILE = 0o600;

/**
 * The database holds password hashes and session ids: its folder and files
 * are the owner's alone. The file is made before SQLite opens it, because
 * SQLite gives its -wal and -shm files the database file's mode. A folder
 * others may write to (such as /tmp) is left as it is.
 */
function keepToOwner(filename: string): void {
  const folder = dirname(filename);
  mkdirSync(folder, { recursive: true, mode: OWNER_ONLY_FOLDER });
  const { mode, uid } = statSync(folder);
  if (uid === process.getuid?.() && (mode & 0o002) === 0) chmodSync(folder, OWNER_ONLY_FOLDER);
  closeSync(openSync(filename, 'a', OWNER_ONLY_FILE));
  for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
    if (existsSync(file)) chmodSync(file, OWNER_ONLY_FILE);
  }
}

interface SqliteConnection {
  exec(sql: string, callback: (error: Error | null) => void): void;
}

const MIGRATION_WAIT_MS = 60_000;

/**
 * Applies pending migrations. Instances starting together take turns through
 * Knex's migration lock: one migrates, the others wait for it and then find
 * nothing left to do.
 */
export async function migrateToLatest(db: Knex, onWait: (reason: string) => void = () => {}): Promise<string[]> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      return applied;
    } catch (error) {
      const reason = migrationRaceReason(error);
      if (!reason || Date.now() > deadline) {
        if (reason) {
          throw new Error(
            `migrations still locked after ${MIGRATION_WAIT_MS / 1000} s; if no other instance is ` +
              'migrating, a crashed one left the lock: clear it with `npm run cli -- migrate --unlock`',
          );
        }
        throw error;
      }
      onWait(reason);
      await sleep(Math.min(100 * attempt, 1000));
    }
  }
}

/** Why a migration attempt lost a race with another instance, or undefined for a real failure. */
function migrationRaceReason(error: unknown): string | undefined {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  if (name === 'MigrationLocked') return 'another instance is migrating';
  // Two instances creating Knex's own bookkeeping tables at the same moment.
  if (code === '42P07' || code === '23505' || (typeof message === 'string' && /already exists/.test(message))) {
    return 'another instance is creating the migration tables';
  }
  return undefined;
}

/** Frees the migration lock left by an instance that crashed mid-migration. */
export async function unlockMigrations(db: Knex): Promise<void> {
  await db.migrate.forceFreeMigrationsLock({ migrationSource });
}

export type Readiness = 'ready' | 'database unreachable' | 'migrations pending';

const READINESS_TIMEOUT_MS = 2000;

/**
 * Whether the database answers (on the hot reads' connection too, when
 * given) and has every migration applied. Read-only (Knex's own migrate.list
 * would create its tables), and bounded in time.
 */
export async function checkReadiness(db: Knex, hotReads?: { countUsers(): unknown }): Promise<Readiness> {
  const check = async (): Promise<Readiness> => {
    try {
      await db.raw('select 1');
    } catch {
      return 'database unreachable';
    }
    let applied: Set<string>;
    try {
      applied = new Set((await db('knex_migrations').select<{ name: string }[]>('name')).map((row) => row.name));
    } catch {
      return 'migrations pending'; // not even Knex's bookkeeping table yet
    }
    const known = await migrationSource.getMigrations([]);
    if (!known.every((name) => applied.has(name))) return 'migrations pending';
    try {
      await hotReads?.countUsers();
    } catch {
      return 'database unreachable';
    }
    return 'ready';
  };
  return withinTime(check(), READINESS_TIMEOUT_MS, () => 'database unreachable');
}

/** True when every known migration has been applied. */
export async function isMigrated(db: Knex): Promise<boolean> {
  return (await checkReadiness(db)) === 'ready';
}
