// The hot reads' own PostgreSQL connection, one per process, pipelined
// (postgres.js): the lookups of the requests that arrive together go out in
// one write and come back in one read, each statement prepared once on the
// connection. On Knex's pool (pg) every lookup took a connection of its own
// and a round trip of its own. Measured with 32 lookups in flight, the
// pipeline cost about half the client CPU and half the database's per lookup
// (bench/README.md). Connection settings come from DATABASE_URL read the way
// pg reads it for Knex's pool, so both connections agree on host, TLS and
// certificate checks.
import postgres from 'postgres';
import { parse } from 'pg-connection-string';
import type { DatabaseConfig } from '../config.js';
import { CLIENT_TIMEOUT_MARGIN_MS } from './database.js';

type PostgresConfig = Extract<DatabaseConfig, { client: 'postgres' }>;
type Parameter = string | number;

export interface Pipeline {
  query<Row>(text: string, values: Parameter[]): Promise<Row[]>;
  close(): Promise<void>;
}

/**
 * A lookup the server has not answered by statement_timeout and the margin
 * (a network partition) fails, and the connection is replaced: every later
 * lookup would queue behind it.
 */
export function openPipeline(config: PostgresConfig): Pipeline {
  const options = connectionOptions(config);
  let connection = postgres(options);
  const timeoutMs = config.statementTimeoutMs > 0 ? config.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS : 0;
  const run = <Row>(text: string, values: Parameter[]) =>
    connection.unsafe(text, values, { prepare: true }) as unknown as Promise<Row[]>;
  if (timeoutMs === 0) return { query: run, close: () => connection.end() };

  return {
    async query<Row>(text: string, values: Parameter[]) {
      const used = connection;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          if (connection === used) {
            connection = postgres(options);
            void used.end({ timeout: 0 });
          }
          reject(new Error(`PostgreSQL did not answer a lookup within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([run<Row>(text, values), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => connection.end(),
  };
}

/** The connection settings, exported for their test. */
export function connectionOptions(config: PostgresConfig): postgres.Options<Record<string, never>> {
  const { host, port, database, user, password, ssl, application_name, options } = parse(config.connectionString);
  const startupParameters = Object.fromEntries(
    Object.entries({
      application_name,
      options,
      statement_timeout: config.statementTimeoutMs > 0 ? String(config.statementTimeoutMs) : undefined,
    }).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  // What the URL leaves out, both drivers take from PGHOST, PGPORT, PGUSER and PGDATABASE.
  const server = host?.startsWith('/')
    ? { path: `${host}/.s.PGSQL.${port || 5432}` }
    : { host: host ?? undefined, port: port ? Number(port) : undefined };
  return {
    ...server,
    database: database ?? undefined,
    username: user,
    password,
    // TLS options as pg reads them (sslmode, sslrootcert, …); pg's `true` is
    // TLS with the certificate checked, which postgres.js takes as an object.
    ssl: typeof ssl === 'object' ? ssl : ssl ? {} : false,
    max: 1,
    prepare: true,
    fetch_types: false,
    connect_timeout: Math.max(1, Math.ceil(config.connectTimeoutMs / 1000)),
    connection: startupParameters,
    onnotice: () => {},
  };
}
