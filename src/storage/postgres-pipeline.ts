// The hot reads' own PostgreSQL connection, one per process, pipelined
// (postgres.js): the lookups of the requests that arrive together go out in
// one write and come back in one read, each statement prepared once on the
// connection. pg, under Knex's pool, sends one query per connection and
// waits for it (measurements: bench/README.md).
//
// The connection's settings are pg's own reading of the same connection
// string and PG* variables (its ConnectionParameters), handed to postgres.js
// whole, so both drivers reach the same server, database and schema with the
// same TLS and certificate checks.
import postgres from 'postgres';
import ConnectionParameters from 'pg/lib/connection-parameters.js';
import type { PostgresConfig } from '../config.js';
import { clientTimeoutMs, pgConnection } from './database.js';
import { withinTime } from './time-limit.js';

export type Parameter = string | number;

export interface Pipeline {
  query<Row>(text: string, values: Parameter[]): Promise<Row[]>;
  close(): Promise<void>;
}

// A lookup without parameters would otherwise go unprepared (the simple protocol).
const PREPARED = { prepare: true, simple: false } as postgres.UnsafeQueryOptions;
// Graceful shutdown drains requests first; this bounds a close that still waits on a silent server.
const CLOSE_TIMEOUT_SECONDS = 5;

interface Connection {
  sql: postgres.Sql;
  /** When it last answered anything, by performance.now(). */
  answeredAt: number;
}

/**
 * A lookup the server has not answered within the client timeout fails. If
 * the connection has answered nothing since that lookup went out, the server
 * is gone silent (a network partition) and the connection is replaced: every
 * later lookup would queue behind it. A connection that is only slow stays.
 */
export function openPipeline(config: PostgresConfig): Pipeline {
  const options = connectionOptions(config);
  const timeoutMs = clientTimeoutMs(config);
  const connect = (): Connection => ({ sql: postgres(options), answeredAt: 0 });
  let current = connect();
  let closing: Promise<void> | undefined;

  const send = <Row>(connection: Connection, text: string, values: Parameter[]) => {
    const answered = () => (connection.answeredAt = performance.now());
    return (connection.sql.unsafe(text, values, PREPARED) as unknown as Promise<Row[]>).finally(answered);
  };

  return {
    async query<Row>(text: string, values: Parameter[]) {
      if (closing) throw new Error('the hot reads are closed');
      const connection = current;
      if (timeoutMs === 0) return send<Row>(connection, text, values);
      const sentAt = performance.now();
      return withinTime(send<Row>(connection, text, values), timeoutMs, () => {
        if (!closing && connection === current && connection.answeredAt < sentAt) {
          current = connect();
          void connection.sql.end({ timeout: 0 });
        }
        throw new Error(`PostgreSQL did not answer a lookup within ${timeoutMs} ms`);
      });
    },
    close: () => (closing ??= current.sql.end({ timeout: CLOSE_TIMEOUT_SECONDS })),
  };
}

/** postgres.js settings from pg's reading of the connection; exported for its test. */
export function connectionOptions(config: PostgresConfig): postgres.Options<Record<string, never>> {
  const pg = new ConnectionParameters(pgConnection(config));
  const startupParameters = Object.fromEntries(
    Object.entries({
      application_name: pg.application_name ?? pg.fallback_application_name,
      options: pg.options,
      statement_timeout: pg.statement_timeout,
      lock_timeout: pg.lock_timeout,
      idle_in_transaction_session_timeout: pg.idle_in_transaction_session_timeout,
    }).flatMap(([name, value]) => (value === undefined || value === false ? [] : [[name, String(value)]])),
  );
  // postgres.js splits a host string at ':', which breaks an IPv6 address;
  // arrays it takes as they are, though its types name a string.
  const server = pg.isDomainSocket
    ? { path: `${pg.host}/.s.PGSQL.${pg.port}` }
    : ({ host: [pg.host], port: [pg.port] } as unknown as { host: string; port: number });
  return {
    ...server,
    database: pg.database,
    username: pg.user,
    password: pg.password,
    // pg's `true` is TLS with the certificate checked; postgres.js says that with an object.
    ssl: pg.ssl === true ? {} : pg.ssl,
    max: 1,
    prepare: true,
    fetch_types: false,
    debug: false,
    max_lifetime: null,
    idle_timeout: 0,
    connect_timeout: config.connectTimeoutMs / 1000,
    connection: startupParameters,
    onnotice: () => {},
  };
}
