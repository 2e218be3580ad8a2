// A database that stops answering without refusing connections (a network
// partition): requests must get the documented 500 within the statement
// timeout's bound, not wait out the outage, and a start-up against such an
// address must fail in seconds, naming the database. PostgreSQL only: SQLite
// has no network between the service and its data.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { backend, createTestDatabase, type TestDatabase } from '../support/database.js';
import { partitionableProxy, type PartitionableProxy } from '../support/proxy.js';
import { ADMIN, startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('a database that stops answering', function () {
  this.timeout(60_000);
  before(function () {
    if (backend !== 'postgres') this.skip();
  });

  let database: TestDatabase;
  let proxy: PartitionableProxy;
  let api: TestServer;
  before(async function () {
    if (backend !== 'postgres') return;
    database = await createTestDatabase();
    proxy = await partitionableProxy(new URL(database.url));
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    api = await startTestServer({
      DATABASE_URL: url.toString(),
      DB_STATEMENT_TIMEOUT_MS: '1000',
      DB_CONNECT_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    await api?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('answers the documented 500 within the bound, not after the outage', async () => {
    const token = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('GET', '/users/1', { token })).status).to.equal(200);
    proxy.goSilent();
    const started = Date.now();
    const replies = await Promise.all([
      api.request('GET', '/users/1', { token }),
      api.request('GET', '/protected', { token }),
      api.request('GET', '/users/pagination'),
    ]);
    for (const reply of replies) {
      expect(reply.status).to.equal(500);
      expect(reply.body).to.deep.equal({ error: 'Internal server error' });
    }
    // statement timeout 1 s + 1 s margin for the query, + 1 s to connect anew.
    expect(Date.now() - started).to.be.below(8_000);
  });
});

describe('a start-up against a database that never answers', function () {
  this.timeout(60_000);
  it('fails in seconds with a message that names the database', async function () {
    if (backend !== 'postgres') this.skip();
    const silent = createServer(() => {}); // accepts, then says nothing
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'server.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          PORT: '0',
          DATABASE_URL: `postgres://someone:secret-password@127.0.0.1:${port}/users_db`,
          JWT_SECRET: TEST_SECRET,
          SIGNING_KEYS_SECRET: TEST_SECRET,
          DB_CONNECT_TIMEOUT_MS: '2000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const started = Date.now();
      const [code] = await once(child, 'exit');
      expect(code).to.equal(1);
      expect(Date.now() - started).to.be.below(15_000);
      expect(output).to.include(`can't reach PostgreSQL 127.0.0.1:${port}/users_db`);
      expect(output).to.not.include('secret-password');
    } finally {
      silent.close();
    }
  });
});
