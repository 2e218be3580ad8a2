import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';

describe('GET /users/pagination', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
    for (let i = 0; i < 24; i += 1) await api.register(); // 25 users with the admin
  });
  after(() => api.close());

  it('is public and defaults to page 1 of 10, ordered by id, items with exactly the summary fields', async () => {
    const reply = await api.request('GET', '/users/pagination');
    expect(reply.status).to.equal(200);
    expect(reply.body.page).to.equal(1);
    expect(reply.body.per_page).to.equal(10);
    expect(reply.body.total_users).to.equal(25);
    expect(reply.body.users.map((u: { id: number }) => u.id)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const user of reply.body.users) {
      expect(Object.keys(user)).to.have.members(['id', 'email', 'user_name', 'first_name', 'last_name']);
    }
  });

  it('pages through everyone exactly once', async () => {
    const seen: number[] = [];
    for (let page = 1; page <= 3; page += 1) {
      const reply = await api.request('GET', `/users/pagination?page=${page}&per_page=10`);
      seen.push(...reply.body.users.map((u: { id: number }) => u.id));
    }
    expect(seen).to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('answers an empty page past the end', async () => {
    const reply = await api.request('GET', '/users/pagination?page=4&per_page=10');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({ users: [], page: 4, per_page: 10, total_users: 25 });
  });

  for (const query of [
    'page=0',
    'page=-1',
    'page=abc',
    'per_page=0',
    'per_page=101',
    'per_page=1.5',
    'page=1&sort=id',
    'page=1e1',
    'per_page=0x10',
    'page=1&page=2',
    'per_page=',
    'page=%2B1',
    'page=01',
  ]) {
    it(`answers 400 with the exact text for ${query}`, async () => {
      const reply = await api.request('GET', `/users/pagination?${query}`);
      expect(reply.status).to.equal(400);
      expect(reply.body.error).to.equal('wrong parameters page, per_page');
    });
  }

  it('accepts per_page=100', async () => {
    const reply = await api.request('GET', '/users/pagination?per_page=100');
    expect(reply.body.users).to.have.length(25);
  });

  it('refuses a token that is sent but invalid', async () => {
    const reply = await api.request('GET', '/users/pagination', { token: 'a.b.c' });
    expect(reply.status).to.equal(401);
    expect(reply.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
  });
});

describe('GET /users/pagination with USERS_LIST_REQUIRES_AUTH=true', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ USERS_LIST_REQUIRES_AUTH: 'true' });
  });
  after(() => api.close());

  it('answers 401 without a token, 200 with one', async () => {
    const anonymous = await api.request('GET', '/users/pagination');
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
    const { token } = await api.register();
    expect((await api.request('GET', '/users/pagination', { token })).status).to.equal(200);
  });
});
