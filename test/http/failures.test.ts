import { expect } from 'chai';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';

describe('failures', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('answers 500 Internal server error, no stack, when the database fails; nothing half-written', async () => {
    const token = await api.login(ADMIN.email, ADMIN.password);
    await api.service.db.schema.renameTable('users', 'users_away');
    try {
      const reply = await api.request('GET', '/users/pagination');
      expect(reply.status).to.equal(500);
      expect(reply.body).to.deep.equal({ error: 'Internal server error' });
      const read = await api.request('GET', '/users/1', { token });
      expect(read.status).to.equal(500);
      expect(read.body).to.deep.equal({ error: 'Internal server error' });
    } finally {
      await api.service.db.schema.renameTable('users_away', 'users');
    }
    expect((await api.request('GET', '/users/1', { token })).status).to.equal(200);
  });

  it('rolls back a registration whose session cannot be written', async () => {
    await api.service.db.schema.renameTable('sessions', 'sessions_away');
    try {
      const reply = await api.request('POST', '/users', {
        body: {
          email: 'half@example.com',
          user_name: 'half',
          first_name: 'H',
          last_name: 'W',
          password: 'long-enough-1',
        },
      });
      expect(reply.status).to.equal(500);
    } finally {
      await api.service.db.schema.renameTable('sessions_away', 'sessions');
    }
    const stored = await api.service.db('users').where({ email: 'half@example.com' }).first();
    expect(stored).to.equal(undefined);
  });

  it('answers 404 and 405 with JSON for paths and methods the spec does not have', async () => {
    const unknown = await api.request('GET', '/nowhere');
    expect(unknown.status).to.equal(404);
    expect(unknown.body).to.deep.equal({ error: 'Not found' });
    const method = await api.request('DELETE', '/users/1');
    expect(method.status).to.equal(405);
    expect(method.body).to.deep.equal({ error: 'Method not allowed' });
  });

  it('sends no X-Powered-By header', async () => {
    const reply = await api.request('GET', '/users/pagination');
    expect(reply.headers.has('x-powered-by')).to.equal(false);
  });
});
