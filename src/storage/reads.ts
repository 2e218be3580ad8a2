// The reads behind almost every request of an app using this service (the
// token's session, a profile, a page of the listing and its count): fixed
// statements, and one interface over two ways to run them, chosen once in
// compose.ts.
//
// On a SQLite file they run on one read-only better-sqlite3 connection with
// each statement prepared once: per lookup that measured about 8 µs of CPU,
// against about 45 µs for a prepared sqlite3 statement and about 120 µs
// through Knex (bench/README.md). Synchronous is safe for these reads
// alone: in WAL mode a reader never waits for a writer, and each statement
// sees everything committed before it, so a logout through any connection or
// process refuses its token at once. Writes stay on Knex with the
// asynchronous sqlite3 driver, where waiting for another writer's lock can't
// stall the event loop.
//
// On PostgreSQL they run as prepared statements on a pipelined connection of
// their own (postgres-pipeline.ts), skipping Knex's query building and pool
// (bench/README.md). In memory, inside transactions (which must see their
// own uncommitted writes) and with DB_PREPARED_STATEMENTS=false the same
// statements run through Knex.
import Database from 'better-sqlite3';
import type { Knex } from 'knex';
import type { DatabaseConfig } from '../config.js';
import type { User, UserSummary } from '../domain/model.js';
import type { ActiveSession, SessionWithProfile } from '../domain/ports.js';
import { openPipeline, type Parameter, type Pipeline } from './postgres-pipeline.js';

export const SUMMARY_COLUMNS = ['id', 'email', 'user_name', 'first_name', 'last_name'] as const;
export const PROFILE_COLUMNS = [...SUMMARY_COLUMNS, 'role'] as const;

const ACTIVE_SESSION_COLUMNS =
  'sessions.user_id, users.role, users.email_verified_at is not null as email_verified, sessions.amr, sessions.authenticated_at';
const ACTIVE_SESSION_SQL =
  `select ${ACTIVE_SESSION_COLUMNS} ` +
  'from sessions inner join users on users.id = sessions.user_id ' +
  'where sessions.id = ? and sessions.expires_at > ? limit 1';
const PROFILE_BY_ID_SQL = `select ${PROFILE_COLUMNS.join(', ')} from users where id = ? limit 1`;
// The session and a profile in one statement (x-profile-with-session): the profile's id first.
const ACTIVE_SESSION_WITH_PROFILE_SQL =
  `select ${ACTIVE_SESSION_COLUMNS}, ` +
  PROFILE_COLUMNS.map((column) => `profile.${column} as profile_${column}`).join(', ') +
  ' from sessions inner join users on users.id = sessions.user_id ' +
  'left join users profile on profile.id = ? ' +
  'where sessions.id = ? and sessions.expires_at > ? limit 1';

type SessionWithProfileRow = ActiveSession & {
  [C in (typeof PROFILE_COLUMNS)[number] as `profile_${C}`]: User[C] | null;
};

/** The session's fields, and the profile when the left join found one. */
function sessionWithProfile(row: SessionWithProfileRow | undefined): SessionWithProfile | undefined {
  if (!row) return undefined;
  const { user_id, role, email_verified, amr, authenticated_at } = row;
  const profile =
    row.profile_id === null
      ? undefined
      : (Object.fromEntries(PROFILE_COLUMNS.map((column) => [column, row[`profile_${column}`]])) as unknown as User);
  return { user_id, role, email_verified, amr, authenticated_at, profile };
}
/**
 * Users are counted in blocks of this many positions (migration 010):
 * positions grow in id order and deletions leave gaps, so a page finds the
 * block holding its first user by the count of users before each block (an
 * index seek), then walks at most this many positions into it.
 */
export const USER_BLOCK_SIZE = 128;
// coalesce: with no users there are no blocks.
const BLOCK_OF_OFFSET = 'coalesce((select %s from user_blocks where before <= ? order by before desc limit 1), 0)';
// One statement, so the page and the block counts it uses are one snapshot.
const PAGE_SQL =
  `select ${SUMMARY_COLUMNS.join(', ')} from users ` +
  `where position >= ${BLOCK_OF_OFFSET.replace('%s', `block * ${USER_BLOCK_SIZE}`)} ` +
  `order by position limit ? offset (? - ${BLOCK_OF_OFFSET.replace('%s', 'before')})`;
const USER_COUNT_SQL = "select value from counters where name = 'users'";

/** The hot reads; a value or a promise of one, as the driver gives it. */
export interface HotReads {
  findActiveSession(id: string, nowSeconds: number): ActiveSession | undefined | Promise<ActiveSession | undefined>;
  findActiveSessionWithProfile(
    id: string,
    nowSeconds: number,
    profileId: number,
  ): SessionWithProfile | undefined | Promise<SessionWithProfile | undefined>;
  findProfile(id: number): User | undefined | Promise<User | undefined>;
  page(offset: number, limit: number): UserSummary[] | Promise<UserSummary[]>;
  countUsers(): number | Promise<number>;
  close(): void | Promise<void>;
}

/** The reads through Knex: PostgreSQL, in-memory SQLite, and any transaction. */
export function knexReads(db: Knex | Knex.Transaction): HotReads {
  const rows = async <T>(sql: string, values: Parameter[] = []) => rowsOf<T>(await db.raw(sql, values));
  return {
    findActiveSession: async (id, nowSeconds) => (await rows<ActiveSession>(ACTIVE_SESSION_SQL, [id, nowSeconds]))[0],
    findActiveSessionWithProfile: async (id, nowSeconds, profileId) =>
      sessionWithProfile(
        (await rows<SessionWithProfileRow>(ACTIVE_SESSION_WITH_PROFILE_SQL, [profileId, id, nowSeconds]))[0],
      ),
    findProfile: async (id) => (await rows<User>(PROFILE_BY_ID_SQL, [id]))[0],
    page: (offset, limit) => rows<UserSummary>(PAGE_SQL, [offset, limit, offset, offset]),
    countUsers: async () => Number((await rows<{ value: number | string }>(USER_COUNT_SQL))[0].value),
    close: () => {},
  };
}

/** The rows of a raw query: SQLite's driver answers an array, pg a result object. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

// The rare moment a reader can't start (another connection recovering the
// WAL index) is waited out this long, on the event loop.
const READER_BUSY_TIMEOUT_MS = 250;

/** The hot reads for this database: prepared statements on a SQLite file or PostgreSQL, Knex in memory. */
export function openHotReads(config: DatabaseConfig, db: Knex): HotReads {
  if (config.client === 'postgres')
    return config.preparedStatements ? postgresReads(openPipeline(config)) : knexReads(db);
  if (config.filename === ':memory:') return knexReads(db);
  const connection = new Database(config.filename, { readonly: true, fileMustExist: true });
  try {
    connection.pragma(`busy_timeout = ${READER_BUSY_TIMEOUT_MS}`);
    return preparedReads(connection);
  } catch (error) {
    connection.close();
    throw error;
  }
}

function preparedReads(connection: Database.Database): HotReads {
  const activeSession = connection.prepare<[string, number], ActiveSession>(ACTIVE_SESSION_SQL);
  const activeSessionWithProfile = connection.prepare<[number, string, number], SessionWithProfileRow>(
    ACTIVE_SESSION_WITH_PROFILE_SQL,
  );
  const profileById = connection.prepare<[number], User>(PROFILE_BY_ID_SQL);
  const page = connection.prepare<[number, number, number, number], UserSummary>(PAGE_SQL);
  const userCount = connection.prepare<[], { value: number }>(USER_COUNT_SQL);
  return {
    findActiveSession: (id, nowSeconds) => activeSession.get(id, nowSeconds),
    findActiveSessionWithProfile: (id, nowSeconds, profileId) =>
      sessionWithProfile(activeSessionWithProfile.get(profileId, id, nowSeconds)),
    findProfile: (id) => profileById.get(id),
    page: (offset, limit) => page.all(offset, limit, offset, offset),
    countUsers: () => userCount.get()!.value,
    close: () => {
      connection.close();
    },
  };
}

function postgresReads(pipeline: Pipeline): HotReads {
  // `?` becomes $1, $2, …
  const statement = <Row, Values extends Parameter[]>(sql: string) => {
    let position = 0;
    const text = sql.replace(/\?/g, () => `$${(position += 1)}`);
    return (...values: Values) => pipeline.query<Row>(text, values);
  };
  const activeSession = statement<ActiveSession, [string, number]>(ACTIVE_SESSION_SQL);
  const activeSessionWithProfile = statement<SessionWithProfileRow, [number, string, number]>(
    ACTIVE_SESSION_WITH_PROFILE_SQL,
  );
  const profileById = statement<User, [number]>(PROFILE_BY_ID_SQL);
  const page = statement<UserSummary, [number, number, number, number]>(PAGE_SQL);
  const userCount = statement<{ value: string }, []>(USER_COUNT_SQL);
  return {
    findActiveSession: async (id, nowSeconds) => (await activeSession(id, nowSeconds))[0],
    findActiveSessionWithProfile: async (id, nowSeconds, profileId) =>
      sessionWithProfile((await activeSessionWithProfile(profileId, id, nowSeconds))[0]),
    findProfile: async (id) => (await profileById(id))[0],
    page: (offset, limit) => page(offset, limit, offset, offset),
    countUsers: async () => Number((await userCount())[0].value),
    close: () => pipeline.close(),
  };
}
