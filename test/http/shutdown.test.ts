import { expect } from 'chai';
import { once } from 'node:events';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { TEST_SECRET } from '../support/server.js';

describe('graceful shutdown', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    database = await createTestDatabase();
    // Six logins at once for one email from one address would pass the strict
    // login limit (5 in flight): it has tests of its own.
    server = await startServerProcess({
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'fatal',
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
    });
  });
  after(async () => {
    await server.stop();
    await database.drop();
  });

  it('finishes logins in flight on SIGTERM, then exits 0', async () => {
    const user = { email: 'slow@example.com', user_name: 'slow', first_name: 'S', last_name: 'L', password: 'long-enough-pw' };
    expect((await fetch(`${server.url}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) })).status).to.equal(201);

    const logins = Array.from({ length: 6 }, () =>
      fetch(`${server.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: user.email, password: user.password }),
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 30)); // the requests are on the server, hashing
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');

    const replies = await Promise.all(logins);
    expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    const [code] = await exited;
    expect(code).to.equal(0);
  });
});
