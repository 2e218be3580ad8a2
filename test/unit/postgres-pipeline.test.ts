// The hot reads' pipelined PostgreSQL connection, against a real server:
// what it tells the server when it connects, that lookups sent together each
// get their own answer, that it connects anew after losing its connection or
// when the server goes silent, and that closing it is bounded. PostgreSQL
// only, except the settings, which are read from a URL and the environment.
import { expect } from 'chai';
import knex, { type Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PostgresConfig } from '../../src/config.js';
import { connectionOptions, openPipeline, type Pipeline } from '../../src/storage/postgres-pipeline.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/database.js';
import { partitionableProxy } from '../support/proxy.js';

const settings = (connectionString: string, statementTimeoutMs = 1500): PostgresConfig => ({
  client: 'postgres',
  connectionString,
  poolMax: 4,
  preparedStatements: true,
  statementTimeoutMs,
  connectTimeoutMs: 2000,
});

describe('the hot reads’ pipelined PostgreSQL connection', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let admin: Knex;
  let pipeline: Pipeline;
  const backendPid = async (through = pipeline) =>
    (await through.query<{ pid: number }>('select pg_backend_pid() as pid', []))[0].pid;

  before(async function () {
    if (backend !== 'postgres') return this.skip();
    database = await createTestDatabase();
    admin = knex({ client: 'pg', connection: database.url, pool: { min: 0, max: 1 } });
  });
  beforeEach(function () {
    if (backend !== 'postgres') return this.skip();
    const url = new URL(database.url);
    url.searchParams.set('application_name', 'pipeline-test');
    pipeline = openPipeline(settings(url.toString()));
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

  it('keeps a connection that is slow but answering: only the lookups that waited too long fail', async () => {
    // Client timeout 2.5 s. The first statement answers at 1.4 s; the second
    // at 2.8 s and the lookup queued behind it are past the timeout.
    const pid = await backendPid();
    const outcomes = await Promise.all(
      ['select pg_sleep(1.4)', 'select pg_sleep(1.4)', 'select 1'].map((text) =>
        pipeline.query(text, []).then(
          () => 'answered',
          (error: Error) => error.message,
        ),
      ),
    );
    const late = 'PostgreSQL did not answer a lookup within 2500 ms';
    expect(outcomes).to.deep.equal(['answered', late, late]);
    expect(await backendPid()).to.equal(pid);
  });

  describe('when the server goes silent', () => {
    let proxy: Awaited<ReturnType<typeof partitionableProxy>>;
    let silenced: Pipeline;
    beforeEach(async () => {
      proxy = await partitionableProxy(new URL(database.url));
      const url = new URL(database.url);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      url.searchParams.set('application_name', 'pipeline-test-silent');
      // Client timeout: 300 ms + 1 s.
      silenced = openPipeline(settings(url.toString(), 300));
    });
    afterEach(async () => {
      await silenced.close();
      await proxy.close();
    });

    it('fails the lookup after the client timeout, and the next one answers over a new connection', async () => {
      const before = await backendPid(silenced);
      proxy.silenceOpenConnections();
      const started = Date.now();
      const outcome = await silenced.query('select 1', []).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      expect(outcome).to.equal('PostgreSQL did not answer a lookup within 1300 ms');
      expect(Date.now() - started).to.be.within(1200, 3000);
      const after = await backendPid(silenced);
      expect(after).to.be.a('number').and.not.equal(before);
    });

    it('leaves one new connection when several lookups time out together', async () => {
      await backendPid(silenced);
      proxy.silenceOpenConnections();
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () =>
          silenced.query('select 1', []).then(
            () => 'answered',
            () => 'failed',
          ),
        ),
      );
      expect(outcomes).to.deep.equal(Array(5).fill('failed'));
      const pids = await Promise.all(Array.from({ length: 5 }, () => backendPid(silenced)));
      expect(new Set(pids).size).to.equal(1);
      const [{ count }] = (
        await admin.raw<{ rows: { count: number }[] }>(
          "select count(*)::int as count from pg_stat_activity where application_name = 'pipeline-test-silent'",
        )
      ).rows;
      expect(count).to.be.at.most(2); // the new connection, and at most the silenced one not yet gone
    });

    it('closes within its bound with a lookup in flight, and refuses lookups after', async () => {
      await backendPid(silenced);
      proxy.silenceOpenConnections();
      const inFlight = silenced.query('select 1', []).catch(() => 'failed');
      const started = Date.now();
      await silenced.close();
      expect(Date.now() - started).to.be.below(6000);
      expect(await inFlight).to.equal('failed');
      const after = await silenced.query('select 1', []).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      expect(after).to.equal('the hot reads are closed');
    });
  });
});

describe('the pipelined connection’s settings, read as pg reads them', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it('checks the server’s certificate when the URL or PGSSLMODE asks for TLS', () => {
    delete process.env.PGSSLMODE;
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users?sslmode=verify-full')).ssl).to.deep.equal(
      {},
    );
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users?ssl=true')).ssl).to.deep.equal({});
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users?sslmode=no-verify')).ssl).to.deep.equal({
      rejectUnauthorized: false,
    });
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users')).ssl).to.equal(false);
    process.env.PGSSLMODE = 'verify-full';
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users')).ssl).to.deep.equal({});
  });

  it('takes host, port, database, user and password from the URL, IPv6 included', () => {
    const options = connectionOptions(settings('postgres://someone:s%40cret@[2001:db8::10]:6543/users'));
    expect(options).to.deep.include({
      host: ['2001:db8::10'],
      port: [6543],
      database: 'users',
      username: 'someone',
      password: 's@cret',
      connect_timeout: 2,
    });
  });

  it('reaches a socket folder on the port from the URL or PGPORT', () => {
    delete process.env.PGPORT;
    expect(connectionOptions(settings('postgres://someone@/users?host=/var/run/postgresql')).path).to.equal(
      '/var/run/postgresql/.s.PGSQL.5432',
    );
    process.env.PGPORT = '5433';
    expect(connectionOptions(settings('postgres://someone@/users?host=/var/run/postgresql')).path).to.equal(
      '/var/run/postgresql/.s.PGSQL.5433',
    );
  });

  it('sends the statement timeout, options and application name, and nothing unset', () => {
    delete process.env.PGOPTIONS;
    delete process.env.PGAPPNAME;
    expect(connectionOptions(settings('postgres://u:p@db.example.com/users', 0)).connection).to.deep.equal({});
    process.env.PGOPTIONS = '-c search_path=app';
    expect(
      connectionOptions(settings('postgres://u:p@db.example.com/users?application_name=users-api', 2500)).connection,
    ).to.deep.equal({ statement_timeout: '2500', options: '-c search_path=app', application_name: 'users-api' });
  });
});
