// Several processes on one database: on SQLite, one instance with two
// node:cluster workers sharing the file; on PostgreSQL, two instances started
// at the same moment (they race for the migrations and the bootstrap admin).
import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { backend, createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { ADMIN, TEST_SECRET } from '../support/server.js';

interface Answer {
  status: number;
  body: any;
}

/** One request on a connection of its own, so the cluster's round-robin spreads them over workers. */
function send(baseUrl: string, method: string, path: string, { body, token }: { body?: unknown; token?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(`${baseUrl}${path}`, {
      method,
      agent: false,
      headers: {
        ...(payload ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe(`several processes on one ${backend} database`, function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let servers: ServerProcess[] = [];
  let targets: string[];

  before(async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    if (backend === 'sqlite') {
      servers = [await startServerProcess({ ...env, WEB_CONCURRENCY: '2' })];
      targets = [servers[0]!.url, servers[0]!.url];
    } else {
      servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
      targets = servers.map((s) => s.url);
    }
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database?.drop();
  });

  it('created the bootstrap admin once', async () => {
    const listing = await send(targets[0]!, 'GET', '/users/pagination?per_page=100');
    const admins = listing.body.users.filter((u: { email: string }) => u.email === ADMIN.email);
    expect(admins).to.have.length(1);
  });

  it('refuses a token everywhere as soon as it is logged out anywhere', async () => {
    const user = { email: 'everywhere@example.com', user_name: 'everywhere', first_name: 'E', last_name: 'W', password: 'long-enough-pw' };
    const { body } = await send(targets[0]!, 'POST', '/users', { body: user });
    const token = body.JWT as string;
    for (const target of targets) expect((await send(target, 'GET', '/protected', { token })).status).to.equal(200);

    expect((await send(targets[0]!, 'POST', '/logout', { token })).status).to.equal(200);
    for (let i = 0; i < 6; i += 1) {
      const answer = await send(targets[i % targets.length]!, 'GET', '/protected', { token });
      expect(answer.status).to.equal(401);
      expect(answer.body).to.deep.equal({ error: 'Invalid or expired token' });
    }
  });

  it('lets exactly one of simultaneous registrations of one email win, across processes', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(targets[i % targets.length]!, 'POST', '/users', {
          body: { email: 'Same@Example.com', user_name: `same_${i}`, first_name: 'S', last_name: 'E', password: 'long-enough-pw' },
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).to.deep.equal([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    for (const answer of answers.filter((a) => a.status === 409)) {
      expect(answer.body).to.deep.equal({ error: 'Invalid request body' });
    }
  });
});
