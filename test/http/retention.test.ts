import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { ADMIN, startTestServer } from '../support/server.js';

const DAY_MS = 86_400_000;

describe('retention', function () {
  this.timeout(30_000);
  let database: TestDatabase;

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  it('prunes audit events and outbox messages past their retention when a service starts', async () => {
    const first = await startTestServer({ DATABASE_URL: database.url });
    const user = await first.register();
    const db = first.service.db;
    const longAgo = Date.now() - 400 * DAY_MS;
    await db('security_events').insert({ type: 'login_success', user_id: user.id, occurred_at: longAgo });
    await db('mail_outbox')
      .where({ recipient: user.email })
      .update({ created_at: Date.now() - 8 * DAY_MS });
    expect((await db('mail_outbox').where({ recipient: user.email })).length).to.be.greaterThan(0);
    await first.close();

    // Another instance on the same database prunes as it starts, then every 10 minutes.
    const second = await startTestServer({ DATABASE_URL: database.url });
    try {
      const admin = await second.login(ADMIN.email, ADMIN.password);
      const trail = await second.request('GET', `/admin/audit?user_id=${user.id}&per_page=100`, { token: admin });
      expect(trail.status).to.equal(200);
      const times: number[] = trail.body.events.map((event: { occurred_at: string }) => Date.parse(event.occurred_at));
      expect(times.length).to.be.greaterThan(0); // the registration's events stay
      expect(Math.min(...times)).to.be.greaterThan(Date.now() - 365 * DAY_MS);
      expect(await second.service.db('mail_outbox').where({ recipient: user.email })).to.deep.equal([]);
    } finally {
      await second.close();
    }
  });
});
