import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
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
      SIGNING_KEYS_SECRET: TEST_SECRET,
      LOG_LEVEL: 'fatal',
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
    });
  });
  after(async () => {
    await server.stop();
    await database.drop();
  });

  /** One request on `agent`'s connections; resolves to the status once the body is read. */
  function send(agent: http.Agent, method: string, path: string, body?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        `${server.url}${path}`,
        { agent, method, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  it('finishes logins in flight on SIGTERM, then exits 0', async () => {
    const user = {
      email: 'slow@example.com',
      user_name: 'slow',
      first_name: 'S',
      last_name: 'L',
      password: 'long-enough-pw',
    };
    expect(
      (
        await fetch(`${server.url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(user),
        })
      ).status,
    ).to.equal(201);

    // Connections the server has accepted already: a connection still in the
    // kernel's accept queue when the listener closes is reset, which is not
    // what this test is about (load balancers stop sending first; see below).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    const opened = await Promise.all(Array.from({ length: 6 }, () => send(agent, 'GET', '/healthz')));
    expect(opened).to.deep.equal([200, 200, 200, 200, 200, 200]);

    const credentials = JSON.stringify({ email: user.email, password: user.password });
    const logins = Array.from({ length: 6 }, () => send(agent, 'POST', '/login', credentials));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the requests are on the server, hashing
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');

    expect(await Promise.all(logins)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    const [code] = await exited;
    expect(code).to.equal(0);
    agent.destroy();
  });

  it('turns readiness 503 for SHUTDOWN_READINESS_DELAY_SECONDS before closing, answering with Connection: close', async () => {
    const own = await createTestDatabase();
    const draining = await startServerProcess({
      DATABASE_URL: own.url,
      JWT_SECRET: TEST_SECRET,
      SIGNING_KEYS_SECRET: TEST_SECRET,
      LOG_LEVEL: 'fatal',
      SHUTDOWN_READINESS_DELAY_SECONDS: '2',
    });
    try {
      expect((await fetch(`${draining.url}/readyz`)).status).to.equal(200);
      const exited = once(draining.child, 'exit');
      const signalled = Date.now();
      draining.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ready = await fetch(`${draining.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(await ready.json()).to.deep.equal({ status: 'unavailable', reason: 'shutting down' });
      expect(ready.headers.get('connection')).to.equal('close');
      // Still serving while load balancers take it out of rotation.
      const live = await fetch(`${draining.url}/healthz`);
      expect(live.status).to.equal(200);
      expect(live.headers.get('connection')).to.equal('close');
      const [code] = await exited;
      expect(code).to.equal(0);
      expect(Date.now() - signalled).to.be.at.least(2_000);
    } finally {
      await draining.stop();
      await own.drop();
    }
  });
});
