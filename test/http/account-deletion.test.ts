// Closing an account is erasure: the row, sessions, links, queued mail and
// the limits' events keyed by the email go; audit events keep ids and kinds
// only; the listing stays dense and exact. Races are fired in parallel.
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import knex, { type Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { backend } from '../support/database.js';
import { ADMIN, type Reply, startTestServer, tally, type TestServer } from '../support/server.js';

const WRONG_PASSWORD = { error: 'Invalid request: Password is incorrect' };

describe('closing your account', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  const close = (token: string, password: string) =>
    api.request('POST', '/account/delete', { token, body: { password } });
  const listing = async () => {
    const users: { id: number }[] = [];
    for (let page = 1; ; page++) {
      const { body } = await api.request('GET', `/users/pagination?page=${page}&per_page=3`);
      users.push(...(body.users as { id: number }[]));
      if (body.users.length < 3) return { ids: users.map((u) => u.id), total: body.total_users as number };
    }
  };

  it('deletes the account once the password is given again, and frees its email and user name', async () => {
    const user = await api.register({ email: 'closing@example.com', user_name: 'closing' });
    const wrong = await close(user.token, 'not-the-password');
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.deep.equal(WRONG_PASSWORD);
    const closed = await close(user.token, user.password);
    expect(closed.status).to.equal(200);
    expect(closed.body).to.deep.equal({ message: 'Account deleted' });

    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status,
    ).to.equal(401);
    const reader = await api.register();
    const profile = await api.request('GET', `/users/${user.id}`, { token: reader.token });
    expect(profile.status).to.equal(404);
    const again = await api.register({ email: 'Closing@Example.com', user_name: 'CLOSING' });
    expect(again.id).to.not.equal(user.id);
  });

  it('erases what held the email or address, and keeps the audit trail to ids and kinds', async () => {
    const user = await api.register({ email: 'erased@example.com', user_name: 'erased' });
    await api.request('POST', '/login', { body: { email: user.email, password: 'a-wrong-guess' } });
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const db = api.service.db;
    for (let waited = 0; (await db('password_reset_tokens').where({ user_id: user.id })).length === 0; waited += 20) {
      if (waited > 5000) throw new Error('no reset link was made');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await db('rate_limit_events').where({ key: user.email })).to.not.deep.equal([]);
    expect((await close(user.token, user.password)).status).to.equal(200);

    expect(await db('users').where({ id: user.id })).to.deep.equal([]);
    expect(await db('sessions').where({ user_id: user.id })).to.deep.equal([]);
    expect(await db('password_reset_tokens').where({ user_id: user.id })).to.deep.equal([]);
    expect(await db('email_verification_tokens').where({ user_id: user.id })).to.deep.equal([]);
    expect(await db('mail_outbox').where({ recipient: user.email })).to.deep.equal([]);
    const keyed = await db('rate_limit_events').where('key', 'like', '%erased@example.com%');
    expect(keyed).to.deep.equal([]);
    const events = await db('security_events').where({ user_id: user.id });
    expect(events.map((e: { type: string }) => e.type)).to.include.members([
      'registration',
      'login_failure',
      'account_deleted',
    ]);
    expect(events.every((e: { address: string | null }) => e.address === null)).to.equal(true);
    expect(JSON.stringify(events)).to.not.include('erased@example.com');
  });

  it('keeps the listing dense and its total exact', async () => {
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await api.register());
    const before = await listing();
    const [, second, , fourth] = users;
    expect((await close(second.token, second.password)).status).to.equal(200);
    expect((await close(fourth.token, fourth.password)).status).to.equal(200);
    const after = await listing();
    expect(after.total).to.equal(before.total - 2);
    expect(after.ids).to.deep.equal(before.ids.filter((id) => id !== second.id && id !== fourth.id));
    expect(after.ids).to.have.length(after.total);
  });

  it('keeps the last admin', async () => {
    const token = await api.login(ADMIN.email, ADMIN.password);
    const refused = await close(token, ADMIN.password);
    expect(refused.status).to.equal(409);
    expect(refused.body).to.deep.equal({ error: 'The last admin cannot be removed' });
    expect((await api.request('GET', '/protected', { token })).status).to.equal(200);
  });

  it('limits wrong passwords per account, counting a burst in parallel', async () => {
    const user = await api.register();
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => close(user.token, `wrong-${i}-password`)));
    expect(tally(replies)).to.deep.equal({ 400: 5, 429: 3 });
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(200);
  });

  it('deletes once when asked twice at the same moment', async () => {
    const user = await api.register();
    const replies = await Promise.all([1, 2].map(() => close(user.token, user.password)));
    expect(tally(replies)).to.deep.equal({ 200: 1, 401: 1 });
  });

  it('leaves no session behind when logins race the deletion, and never answers 500 to reads of it', async () => {
    const user = await api.register();
    const reader = await api.register();
    const logins = Array.from({ length: 4 }, () =>
      api.request('POST', '/login', { body: { email: user.email, password: user.password } }),
    );
    const reads = Array.from({ length: 12 }, () => api.request('GET', `/users/${user.id}`, { token: reader.token }));
    const [closed, ...others] = await Promise.all([close(user.token, user.password), ...logins, ...reads]);
    expect(closed.status).to.equal(200);
    for (const reply of others) expect([200, 401, 404]).to.include(reply.status);
    expect(await api.service.db('sessions').where({ user_id: user.id })).to.deep.equal([]);
    for (const login of await Promise.all(logins)) {
      if (login.status === 200) {
        expect((await api.request('GET', '/protected', { token: login.body.access_token })).status).to.equal(401);
      }
    }
  });

  it('erases in the lock order of a login replacing an outdated hash, so the two never deadlock', async function () {
    // SQLite has one writer at a time: two transactions can't each hold a lock the other waits for.
    if (backend !== 'postgres') this.skip();
    const db = api.service.db;
    const adminToken = await api.login(ADMIN.email, ADMIN.password);
    const user = await api.register();
    await db('users')
      .where({ id: user.id })
      .update({ password_hash: bcrypt.hashSync(user.password, 4) });
    // The store's retry hides a deadlock from the replies; its victim's error is seen here.
    const deadlocks: string[] = [];
    const onQueryError = (error: { code?: unknown; message?: unknown }) => {
      if (error.code === '40P01') deadlocks.push(String(error.message));
    };
    db.on('query-error', onQueryError);
    // A connection of the test's own holds the account's row, so the login and
    // the erasure each stop at it (or at what the other holds) with their
    // earlier locks taken: the interleaving that deadlocks when the two orders
    // differ, made on purpose.
    const outside: Knex = knex({ client: 'pg', connection: db.client.config.connection, pool: { min: 0, max: 2 } });
    const waitingForLocks = async (count: number) => {
      for (let waited = 0; ; waited += 20) {
        const [{ waiting }] = await outside
          .raw<{ rows: { waiting: number }[] }>(
            "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          )
          .then(({ rows }) => rows);
        if (waiting >= count) return;
        if (waited > 10_000) throw new Error(`${waiting} of ${count} transactions waiting for a lock`);
        await sleep(20);
      }
    };
    const holder = await outside.transaction();
    const requests: Promise<Reply>[] = [];
    try {
      await holder('users').where({ id: user.id }).forUpdate().select('id');
      requests.push(api.request('POST', '/login', { body: { email: user.email, password: user.password } }));
      await waitingForLocks(1);
      // An admin's erasure checks no password: closing it oneself would wait for the login's hashing turn.
      requests.push(api.request('DELETE', `/admin/users/${user.id}`, { token: adminToken }));
      await waitingForLocks(2);
    } finally {
      await holder.commit();
      await Promise.allSettled(requests);
      db.off('query-error', onQueryError);
      await outside.destroy();
    }
    const [login, erasure] = await Promise.all(requests);
    expect(deadlocks).to.deep.equal([]);
    // The login took the limits' events first, so the erasure waited for all of it.
    expect(login.status).to.equal(200);
    expect(erasure.status).to.equal(200);
    expect(await db('users').where({ id: user.id })).to.deep.equal([]);
    expect(await db('sessions').where({ user_id: user.id })).to.deep.equal([]);
  });
});
