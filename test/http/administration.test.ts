// What admins do to other accounts: roles, disabling, deleting, signing out.
// Every operation is tried as a user, a moderator and an admin; races are
// fired in parallel.
import { expect } from 'chai';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';

const FORBIDDEN = { error: 'Forbidden' };
const LAST_ADMIN = { error: 'The last admin cannot be removed' };

describe('administration', function () {
  this.timeout(60_000);
  let api: TestServer;
  let adminToken: string;
  let adminId: number;
  before(async () => {
    api = await startTestServer();
    adminToken = await api.login(ADMIN.email, ADMIN.password);
    adminId = Number(JSON.parse(Buffer.from(adminToken.split('.')[1], 'base64url').toString()).sub);
  });
  after(() => api.close());

  const asAdmin = (method: string, path: string, body?: unknown) =>
    api.request(method, path, { token: adminToken, body });
  const canLogIn = async (user: { email: string; password: string }) =>
    (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status;

  it('lets only admins call each admin operation, and answers others 403 whether or not the id exists', async () => {
    const user = await api.register();
    const moderator = await api.register({ role: 'moderator' }, adminToken);
    const operations = (id: number) =>
      [
        ['PUT', `/admin/users/${id}/role`, { role: 'moderator' }],
        ['POST', `/admin/users/${id}/disable`],
        ['POST', `/admin/users/${id}/enable`],
        ['DELETE', `/admin/users/${id}/sessions`],
        ['DELETE', `/admin/users/${id}`],
      ] as const;
    for (const caller of [user, moderator]) {
      for (const id of [user.id, 999_999]) {
        for (const [method, path, body] of operations(id)) {
          const reply = await api.request(method, path, { token: caller.token, body });
          expect(reply.status, `${method} ${path}`).to.equal(403);
          expect(reply.body, `${method} ${path}`).to.deep.equal(FORBIDDEN);
        }
      }
    }
    const target = await api.register();
    const expected = [200, 200, 200, 200, 200];
    const answers = [];
    for (const [method, path, body] of operations(target.id)) answers.push((await asAdmin(method, path, body)).status);
    expect(answers).to.deep.equal(expected);
    for (const [method, path, body] of operations(999_999)) {
      const reply = await asAdmin(method, path, body);
      expect(reply.status, `${method} ${path}`).to.equal(404);
      expect(reply.body).to.deep.equal({ error: 'User not found' });
    }
    expect((await asAdmin('DELETE', '/admin/users/not-a-number')).status).to.equal(400);
    expect((await api.request('DELETE', `/admin/users/${target.id}`)).status).to.equal(401);
  });

  it('changes a role for the very next request', async () => {
    const user = await api.register();
    const other = await api.register();
    const edit = () =>
      api.request('PUT', `/users/update/${other.id}`, { token: user.token, body: { first_name: 'Moderated' } });
    expect((await edit()).status).to.equal(403);
    const promoted = await asAdmin('PUT', `/admin/users/${user.id}/role`, { role: 'moderator' });
    expect(promoted.status).to.equal(200);
    expect(promoted.body).to.deep.equal({ id: user.id, role: 'moderator' });
    expect((await edit()).status).to.equal(200);
    expect((await asAdmin('PUT', `/admin/users/${user.id}/role`, { role: 'user' })).status).to.equal(200);
    expect((await edit()).status).to.equal(403);
    const events = await api.service.db('security_events').where({ user_id: user.id, type: 'role_changed' });
    expect(events.map((e: { actor_id: number }) => Number(e.actor_id))).to.deep.equal([adminId, adminId]);
  });

  it('keeps the last admin: not demoted, disabled or deleted', async () => {
    for (const [method, path, body] of [
      ['PUT', `/admin/users/${adminId}/role`, { role: 'user' }],
      ['POST', `/admin/users/${adminId}/disable`],
      ['DELETE', `/admin/users/${adminId}`],
    ] as const) {
      const reply = await asAdmin(method, path, body);
      expect(reply.status, `${method} ${path}`).to.equal(409);
      expect(reply.body).to.deep.equal(LAST_ADMIN);
    }
    expect((await api.request('GET', '/protected', { token: adminToken })).status).to.equal(200);
  });

  it('leaves one admin when two admins demote each other at the same moment', async () => {
    const second = await api.register({ role: 'admin' }, adminToken);
    const third = await api.register({ role: 'admin' }, adminToken);
    // Three admins: the bootstrap one demotes nobody; the other two demote each other and the first.
    const replies = await Promise.all([
      api.request('PUT', `/admin/users/${third.id}/role`, { token: second.token, body: { role: 'user' } }),
      api.request('PUT', `/admin/users/${second.id}/role`, { token: third.token, body: { role: 'user' } }),
      api.request('PUT', `/admin/users/${adminId}/role`, { token: second.token, body: { role: 'user' } }),
      api.request('PUT', `/admin/users/${adminId}/role`, { token: third.token, body: { role: 'user' } }),
    ]);
    for (const reply of replies) expect([200, 403, 409]).to.include(reply.status);
    const admins = await api.service.db('users').where({ role: 'admin' }).whereNull('disabled_at').pluck('id');
    expect(admins).to.have.length(1);
    // Whoever is left can still act; put the bootstrap admin back for the tests after.
    const left = Number(admins[0]);
    const token = left === adminId ? adminToken : left === second.id ? second.token : third.token;
    if (left !== adminId) {
      const restored = await api.request('PUT', `/admin/users/${adminId}/role`, { token, body: { role: 'admin' } });
      expect(restored.status).to.equal(200);
    }
    for (const id of [second.id, third.id]) await asAdmin('DELETE', `/admin/users/${id}`);
  });

  it('disables at once: sessions end, logins in flight get nothing, login answers 403 until enabled', async () => {
    const user = await api.register();
    const logins = Array.from({ length: 4 }, () =>
      api.request('POST', '/login', { body: { email: user.email, password: user.password } }),
    );
    const [disabled, ...raced] = await Promise.all([asAdmin('POST', `/admin/users/${user.id}/disable`), ...logins]);
    expect(disabled.status).to.equal(200);
    expect(disabled.body).to.deep.equal({ message: 'Account disabled' });
    for (const reply of raced) expect([200, 401, 403]).to.include(reply.status);
    for (const reply of raced.filter((r) => r.status === 200)) {
      expect((await api.request('GET', '/protected', { token: reply.body.access_token })).status).to.equal(401);
    }
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    expect(await api.service.db('sessions').where({ user_id: user.id })).to.deep.equal([]);

    const refused = await api.request('POST', '/login', { body: { email: user.email, password: user.password } });
    expect(refused.status).to.equal(403);
    expect(refused.body).to.deep.equal({ error: 'Account disabled' });
    const guess = await api.request('POST', '/login', { body: { email: user.email, password: 'a-wrong-guess' } });
    expect(guess.status).to.equal(401);
    expect((await asAdmin('POST', `/admin/users/${user.id}/disable`)).status).to.equal(200); // no change

    const enabled = await asAdmin('POST', `/admin/users/${user.id}/enable`);
    expect(enabled.body).to.deep.equal({ message: 'Account enabled' });
    expect(await canLogIn(user)).to.equal(200);
  });

  it('deletes an account and signs a user out everywhere', async () => {
    const user = await api.register();
    const second = await api.login(user.email, user.password);
    const ended = await asAdmin('DELETE', `/admin/users/${user.id}/sessions`);
    expect(ended.body).to.deep.equal({ ended: 2 });
    for (const token of [user.token, second]) {
      expect((await api.request('GET', '/protected', { token })).status).to.equal(401);
    }
    const deleted = await asAdmin('DELETE', `/admin/users/${user.id}`);
    expect(deleted.body).to.deep.equal({ message: 'Account deleted' });
    expect(await canLogIn(user)).to.equal(401);
    expect((await asAdmin('DELETE', `/admin/users/${user.id}`)).status).to.equal(404);
    const events = await api.service.db('security_events').where({ user_id: user.id, type: 'account_deleted' });
    expect(events.map((e: { actor_id: number }) => Number(e.actor_id))).to.deep.equal([adminId]);
  });

  it('finds users by exact or prefix email and user name, case-blind, paged with an exact total', async () => {
    const a = await api.register({ email: 'findme-a@example.com', user_name: 'alpha_find' });
    const b = await api.register({ email: 'findme-b@example.com', user_name: 'beta_find' });
    const c = await api.register({ email: 'other-c@example.com', user_name: 'FindMe_C' });
    // Mail is not sent to an address with % any more, but one can be stored (an operator made it, or it predates that).
    await api.service.users.createAccount(
      {
        email: 'find%me@example.com',
        user_name: 'percent_find',
        first_name: 'P',
        last_name: 'F',
        password: 'correct-horse-battery',
      },
      { address: '127.0.0.1', requestId: 'test' },
    );
    await asAdmin('POST', `/admin/users/${b.id}/disable`);
    const search = async (query: string) => (await asAdmin('GET', `/admin/users?${query}`)).body;

    const all = await search('q=%20FINDME&per_page=2');
    expect(all.total_users).to.equal(3);
    expect(all.users.map((u: { id: number }) => u.id)).to.deep.equal([a.id, b.id]);
    expect((await search('q=findme&page=2&per_page=2')).users.map((u: { id: number }) => u.id)).to.deep.equal([c.id]);
    expect((await search('q=findme&page=3&per_page=2')).users).to.deep.equal([]);
    const [first] = all.users;
    expect(first).to.include({ email: 'findme-a@example.com', role: 'user', email_verified: false, disabled: false });
    expect(all.users[1].disabled).to.equal(true);
    expect(Date.parse(first.created_at)).to.be.a('number');

    const exact = await search(`q=${encodeURIComponent('FindMe-A@Example.com')}&match=exact`);
    expect(exact.users.map((u: { id: number }) => u.id)).to.deep.equal([a.id]);
    expect((await search('q=findme_c&match=exact')).users.map((u: { id: number }) => u.id)).to.deep.equal([c.id]);
    expect((await search('q=findme&match=exact')).total_users).to.equal(0);
    // % and _ are letters here, not wildcards.
    expect((await search(`q=${encodeURIComponent('find%')}`)).total_users).to.equal(1);
    expect((await search(`q=${encodeURIComponent('f_nd')}`)).total_users).to.equal(0);

    expect((await asAdmin('GET', '/admin/users')).status).to.equal(400);
    expect((await asAdmin('GET', '/admin/users?q=x&match=fuzzy')).status).to.equal(400);
    const user = await api.register();
    expect((await api.request('GET', '/admin/users?q=find', { token: user.token })).body).to.deep.equal(FORBIDDEN);
  });

  it('reads the audit trail newest first, by account and kind, paged', async () => {
    const user = await api.register();
    await api.request('POST', '/login', { body: { email: user.email, password: 'wrong-one-1' } });
    await api.request('POST', '/login', { body: { email: user.email, password: 'wrong-one-2' } });
    await api.login(user.email, user.password);
    const trail = async (query: string) => (await asAdmin('GET', `/admin/audit?${query}`)).body;

    const mine = await trail(`user_id=${user.id}`);
    expect(mine.events.map((e: { type: string }) => e.type)).to.deep.equal([
      'login_success',
      'login_failure',
      'login_failure',
      'email_verification_sent',
      'registration',
    ]);
    expect(mine.total).to.equal(5);
    const ids = mine.events.map((e: { id: number }) => e.id);
    expect(ids).to.deep.equal([...ids].sort((x: number, y: number) => y - x));
    const failures = await trail(`user_id=${user.id}&type=login_failure&per_page=1&page=2`);
    expect(failures).to.include({ total: 2, page: 2, per_page: 1 });
    expect(failures.events).to.have.length(1);
    expect(failures.events[0]).to.include({
      type: 'login_failure',
      user_id: user.id,
      actor_id: null,
      address: '127.0.0.1',
    });

    await asAdmin('DELETE', `/admin/users/${user.id}`);
    const afterwards = await trail(`user_id=${user.id}`);
    expect(afterwards.events[0]).to.include({ type: 'account_deleted', actor_id: adminId, address: null });
    expect(afterwards.events.every((e: { address: string | null }) => e.address === null)).to.equal(true);
    expect((await asAdmin('GET', '/admin/audit?type=no_such_kind')).status).to.equal(400);
  });
});
