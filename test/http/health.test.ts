import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';

describe('health probes', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('GET /healthz answers 200 without a token', async () => {
    const reply = await api.request('GET', '/healthz');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({ status: 'ok' });
  });

  it('GET /readyz answers 200 when the database is migrated', async () => {
    const reply = await api.request('GET', '/readyz');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({ status: 'ready' });
  });

  it('GET /readyz answers 503 when a migration is missing, and creates nothing', async () => {
    const [last] = await api.service.db('knex_migrations').orderBy('id', 'desc').limit(1);
    await api.service.db('knex_migrations').where({ id: last.id }).delete();
    try {
      const reply = await api.request('GET', '/readyz');
      expect(reply.status).to.equal(503);
      expect(reply.body).to.deep.equal({ status: 'unavailable', reason: 'migrations pending' });
    } finally {
      await api.service.db('knex_migrations').insert(last);
    }
    expect((await api.request('GET', '/readyz')).status).to.equal(200);
  });

  it('GET /readyz answers 503 once shutdown has begun', async () => {
    const other = await startTestServer();
    try {
      other.service.beginShutdown();
      const reply = await other.request('GET', '/readyz');
      expect(reply.status).to.equal(503);
      expect(reply.body).to.deep.equal({ status: 'unavailable', reason: 'shutting down' });
    } finally {
      await other.close();
    }
  });
});
