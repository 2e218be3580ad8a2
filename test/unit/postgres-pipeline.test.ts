// The hot reads' pipelined PostgreSQL connection, against a real server:
// what it tells the server when it connects, that lookups sent together each
// get their own answer, and that it connects anew after losing its connection.
// PostgreSQL only.
import { expect } from 'chai';
import knex, { type Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig } from '../../src/config.js';
import { connectionOptions, openPipeline, type Pipeline } from '../../src/storage/postgres-pipeline.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/database.js';

describe('the hot reads’ pipelined PostgreSQL connection', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let admin: Knex;
  let pipeline: Pipeline;
  const settings = (connectionString: string): DatabaseConfig => ({
    client: 'postgres',
    connectionString,
    poolMax: 4,
    preparedStatements: true,
    statementTimeoutMs: 1500,
    connectTimeoutMs: 2000,
  });
  const backendPid = async () => (await pipeline.query<{ pid: number }>('select pg_backend_pid() as pid', []))[0].pid;

  before(async function () {
    if (backend !== 'postgres') return this.skip();
    database = await createTestDatabase();
    admin = knex({ client: 'pg', connection: database.url, pool: { min: 0, max: 1 } });
  });
  beforeEach(function () {
    if (backend !== 'postgres') return this.skip();
    const url = new URL(database.url);
    url.searchParams.set('application_name', 'pipeline-test');
    const config = settings(url.toString());
    if (config.client === 'postgres') pipeline = openPipeline(config);
  });
  afterEach(async () => pipeline?.close());
  after(async () => {
    await admin?.destroy();
    await database?.drop();
  });

  it('connects with the statement timeout and the URL’s application name', async () => {
    const [row] = await pipeline.query<{ timeout: string; name: string }>(
      "select current_setting('statement_timeout') as timeout, current_setting('application_name') as name",
      [],
    );
    expect(row).to.deep.equal({ timeout: '1500ms', name: 'pipeline-test' });
  });

  it('answers each of many lookups sent at once with its own row, over one connection', async () => {
    const numbers = Array.from({ length: 64 }, (_, i) => i + 1);
    const rows = await Promise.all(
      numbers.map(
        async (n) =>
          (await pipeline.query<{ n: number; pid: number }>('select $1::int as n, pg_backend_pid() as pid', [n]))[0],
      ),
    );
    expect(rows.map((row) => row.n)).to.deep.equal(numbers);
    expect(new Set(rows.map((row) => row.pid)).size).to.equal(1);
  });

  it('fails the lookup in flight when the server ends the connection, and connects anew for the next', async () => {
    const pid = await backendPid();
    const inFlight = pipeline.query('select pg_sleep(1)', []).then(
      () => 'answered',
      () => 'failed',
    );
    await admin.raw('select pg_terminate_backend(?)', [pid]);
    expect(await inFlight).to.equal('failed');
    // Lookups sent before the client has seen the socket close fail with it too.
    const deadline = Date.now() + 2000;
    let next: number | undefined;
    while (next === undefined && Date.now() < deadline) {
      next = await backendPid().catch(() => sleep(20).then(() => undefined));
    }
    expect(next).to.be.a('number').and.not.equal(pid);
  });
});

describe('the pipelined connection’s settings from DATABASE_URL', () => {
  const optionsFor = (connectionString: string) =>
    connectionOptions({
      client: 'postgres',
      connectionString,
      poolMax: 4,
      preparedStatements: true,
      statementTimeoutMs: 0,
      connectTimeoutMs: 2500,
    });

  it('checks the server’s certificate when the URL asks for TLS, as pg does', () => {
    expect(optionsFor('postgres://u:p@db.example.com/users?sslmode=verify-full').ssl).to.deep.equal({});
    expect(optionsFor('postgres://u:p@db.example.com/users?ssl=true').ssl).to.deep.equal({});
    expect(optionsFor('postgres://u:p@db.example.com/users?sslmode=no-verify').ssl).to.deep.equal({
      rejectUnauthorized: false,
    });
    expect(optionsFor('postgres://u:p@db.example.com/users').ssl).to.equal(false);
  });

  it('takes host, port, database, user and password from the URL, and a socket folder as a path', () => {
    expect(optionsFor('postgres://someone:s%40cret@db.example.com:6543/users')).to.include({
      host: 'db.example.com',
      port: 6543,
      database: 'users',
      username: 'someone',
      password: 's@cret',
      connect_timeout: 3,
    });
    expect(optionsFor('postgres://someone@/users?host=/var/run/postgresql')).to.include({
      path: '/var/run/postgresql/.s.PGSQL.5432',
    });
  });

  it('sends no statement timeout when there is none', () => {
    expect(optionsFor('postgres://u:p@db.example.com/users').connection).to.deep.equal({});
  });
});
