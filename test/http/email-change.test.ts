// Changing an email needs recent authentication, and the notice to the old
// address can undo the change: the attack of a stolen token (change the
// email, reset the password from the new address, lock the owner out) tried
// as an attacker would, and its races fired in parallel.
import { expect } from 'chai';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { ADMIN, startTestServer, tally, type TestServer } from '../support/server.js';

const CHANGED = 'Your email address was changed';
const NOT_RECENT = { error: 'Recent authentication required' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('changing an email', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ REAUTH_MAX_AGE_SECONDS: '2' });
  });
  after(() => api.close());

  const changeEmail = (token: string, id: number, email: string) =>
    api.request('PUT', `/users/update/${id}`, { token, body: { email } });

  it('needs recent authentication: a stolen token alone cannot move the account to another address', async () => {
    const owner = await api.register();
    await sleep(2100);
    const stolen = await changeEmail(owner.token, owner.id, 'attacker@example.net');
    expect([stolen.status, stolen.body]).to.deep.equal([403, NOT_RECENT]);
    const account = await api.request('GET', '/account', { token: owner.token });
    expect(account.body.email).to.equal(owner.email);
    // Other profile fields need no proof.
    const renamed = await api.request('PUT', `/users/update/${owner.id}`, {
      token: owner.token,
      body: { first_name: 'Renamed' },
    });
    expect(renamed.status).to.equal(200);
    // An admin changing someone else's email is judged by the admin's own session.
    const admin = await api.login(ADMIN.email, ADMIN.password);
    expect((await changeEmail(admin, owner.id, 'moved-by-admin@example.com')).status).to.equal(200);
    await sleep(2100);
    const staleAdmin = await changeEmail(admin, owner.id, 'moved-again@example.com');
    expect([staleAdmin.status, staleAdmin.body]).to.deep.equal([403, NOT_RECENT]);
  });

  it("puts the old address back from the notice's link, verified, and ends every session; twice at once: one wins", async () => {
    const owner = await api.register();
    const before = await lastOutboxId(api.service.db);
    expect((await changeEmail(owner.token, owner.id, 'taken-over@example.net')).status).to.equal(200);
    const token = await tokenFromOutbox(api.service.db, owner.email, CHANGED, before);
    const answers = await Promise.all([1, 2].map(() => api.request('POST', '/email/revert', { body: { token } })));
    expect(tally(answers)).to.deep.equal({ 200: 1, 400: 1 });
    expect(answers.find((a) => a.status === 200)!.body).to.deep.equal({ message: 'Email address restored' });
    expect(answers.find((a) => a.status === 400)!.body).to.deep.equal({ error: 'Invalid or expired revert token' });
    expect((await api.request('GET', '/protected', { token: owner.token })).status).to.equal(401);
    const back = await api.login(owner.email, owner.password);
    expect((await api.request('GET', '/account', { token: back })).body).to.include({
      email: owner.email,
      email_verified: true,
    });
    // The new address's holder can no longer reset the password.
    const asked = await api.request('POST', '/password/forgot', { body: { email: 'taken-over@example.net' } });
    expect(asked.status).to.equal(202);
    const resets = await api.service
      .db('mail_outbox')
      .where({ recipient: 'taken-over@example.net' })
      .andWhere('id', '>', before);
    expect(resets.map((row: { subject: string }) => row.subject)).to.not.include('Reset your password');
  });

  it("keeps the first notice's link working after a second change, and voids the rest once one is used", async () => {
    const owner = await api.register();
    const before = await lastOutboxId(api.service.db);
    expect((await changeEmail(owner.token, owner.id, 'first-move@example.net')).status).to.equal(200);
    const first = await tokenFromOutbox(api.service.db, owner.email, CHANGED, before);
    const middle = await lastOutboxId(api.service.db);
    expect((await changeEmail(owner.token, owner.id, 'second-move@example.net')).status).to.equal(200);
    const second = await tokenFromOutbox(api.service.db, 'first-move@example.net', CHANGED, middle);
    expect((await api.request('POST', '/email/revert', { body: { token: first } })).status).to.equal(200);
    const after = await api.request('POST', '/email/revert', { body: { token: second } });
    expect([after.status, after.body]).to.deep.equal([400, { error: 'Invalid or expired revert token' }]);
    expect(
      (await api.request('GET', '/account', { token: await api.login(owner.email, owner.password) })).body.email,
    ).to.equal(owner.email);
  });
});
