// Mail that could be turned against the one who receives it: a cap on the
// messages to one address whatever account or request they come from,
// addresses a relay could reroute, reset links to disabled accounts, and mail
// places that failed requests must give back. Races are fired in parallel.
import { expect } from 'chai';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { ADMIN, startTestServer, tally, type TestServer } from '../support/server.js';
import { SUBJECTS } from '../support/smtp.js';

const CAP = 5;
const ORIGIN = { address: '198.51.100.7', requestId: 'mail-abuse-test' };
const INCORRECT_FIELD = 'Incorrect field';

/** Messages queued to `recipient` after outbox id `after`, of any subject. */
const mailTo = async (api: TestServer, recipient: string, after = 0) =>
  api.service.db('mail_outbox').where({ recipient }).andWhere('id', '>', after).pluck<string[]>('subject');

describe('mail turned against its recipient', function () {
  this.timeout(60_000);
  let api: TestServer;
  let adminToken: string;
  before(async () => {
    api = await startTestServer({ MAIL_PER_RECIPIENT: String(CAP), EMAIL_VERIFICATION_REQUESTS_PER_USER: '10' });
    adminToken = await api.login(ADMIN.email, ADMIN.password);
  });
  after(() => api.close());

  describe('the cap per recipient address', () => {
    it('holds across accounts: register, ask for links, close, again, mails one address no more than the cap', async () => {
      const victim = 'bombed@example.com';
      const mailed: number[] = [];
      const resends: number[] = [];
      for (let round = 1; round <= 3; round += 1) {
        const mark = await lastOutboxId(api.service.db);
        const account = await api.register({ email: victim, user_name: `bomber_${round}` });
        for (let n = 0; n < 3; n += 1) {
          resends.push((await api.request('POST', '/email/resend', { token: account.token })).status);
        }
        // Closing the account deletes its queued mail: count it first.
        mailed.push((await mailTo(api, victim, mark)).length);
        const closed = await api.request('POST', '/account/delete', {
          token: account.token,
          body: { password: account.password },
        });
        expect(closed.status).to.equal(200);
      }
      // The link on registration and three asked for; then one link on registration, and nothing more.
      expect(mailed).to.deep.equal([4, 1, 0]);
      expect(resends).to.deep.equal([202, 202, 202, 429, 429, 429, 429, 429, 429]);
    });

    it('lets no more than the cap through when links are asked for in parallel', async () => {
      const user = await api.register();
      const replies = await Promise.all(
        Array.from({ length: 8 }, () => api.request('POST', '/email/resend', { token: user.token })),
      );
      expect(tally(replies)).to.deep.equal({ 202: CAP - 1, 429: 8 - (CAP - 1) });
      expect(await mailTo(api, user.email)).to.have.length(CAP);
    });

    it('counts reset links to the address as the service spells it, whatever case it was asked in', async () => {
      const user = await api.register({ email: 'Mixed.Case.Owner@Example.com' });
      const email = 'mixed.case.owner@example.com';
      for (const asked of [' MIXED.case.owner@EXAMPLE.COM ', email, 'Mixed.Case.Owner@example.com']) {
        const mark = await lastOutboxId(api.service.db);
        expect((await api.request('POST', '/password/forgot', { body: { email: asked } })).status).to.equal(202);
        await tokenFromOutbox(api.service.db, email, SUBJECTS.reset, mark);
      }
      // One link on registration and three reset links: one place is left.
      expect((await api.request('POST', '/email/resend', { token: user.token })).status).to.equal(202);
      expect((await api.request('POST', '/email/resend', { token: user.token })).status).to.equal(429);
      expect(await mailTo(api, email)).to.have.length(CAP);
    });
  });

  describe('mail places of requests that fail', () => {
    it('gives back the account mail place an email change took when the new email is taken (409)', async () => {
      const user = await api.register();
      const other = await api.register();
      const taken = await Promise.all(
        Array.from({ length: 10 }, () =>
          api.request('PUT', `/users/update/${user.id}`, { token: user.token, body: { email: other.email } }),
        ),
      );
      expect(tally(taken)).to.deep.equal({ 409: 10 });
      const mark = await lastOutboxId(api.service.db);
      const newEmail = `moved-${user.id}@example.com`;
      const moved = await api.request('PUT', `/users/update/${user.id}`, {
        token: user.token,
        body: { email: newEmail },
      });
      expect(moved.status).to.equal(200);
      expect(await mailTo(api, newEmail, mark)).to.deep.equal([SUBJECTS.verification]);
      expect(await mailTo(api, user.email, mark)).to.deep.equal([SUBJECTS.emailChanged]);
    });

    it('gives back the recipient place a registration took when the email is taken (409)', async () => {
      const user = await api.register();
      const again = await Promise.all(
        Array.from({ length: CAP + 1 }, (_, n) =>
          api.request('POST', '/users', {
            body: {
              email: user.email,
              user_name: `taken_${user.id}_${n}`,
              first_name: 'Test',
              last_name: 'User',
              password: 'correct-horse-battery',
            },
          }),
        ),
      );
      expect(tally(again)).to.deep.equal({ 409: CAP + 1 });
      const resends = [];
      for (let n = 0; n < CAP - 1; n += 1)
        resends.push(await api.request('POST', '/email/resend', { token: user.token }));
      expect(tally(resends)).to.deep.equal({ 202: CAP - 1 });
    });
  });

  describe('addresses with mail-routing syntax', () => {
    const refused: [string, string][] = [
      ['an encoded word', '=?utf-8?q?attacker=40evil.com=3e?=@example.com'],
      ['a percent hack', 'attacker%evil.com@example.com'],
      ['a bang path', 'evil.com!attacker@example.com'],
      ['a local part of 65 characters', `${'a'.repeat(65)}@example.com`],
    ];

    for (const [kind, email] of refused) {
      it(`refuses ${kind} wherever an address is mailed`, async () => {
        const mark = await lastOutboxId(api.service.db);
        const registered = await api.request('POST', '/users', {
          body: {
            email,
            user_name: `routed_${mark}`,
            first_name: 'Test',
            last_name: 'User',
            password: 'correct-horse-battery',
          },
        });
        expect(registered.status).to.equal(400);
        expect(registered.body.error).to.equal(INCORRECT_FIELD);
        expect(registered.body.details[0].field).to.equal('body.email');

        const user = await api.register();
        const updated = await api.request('PUT', `/users/update/${user.id}`, { token: user.token, body: { email } });
        expect(updated.status).to.equal(400);
        expect(updated.body.error).to.equal(INCORRECT_FIELD);
        expect(updated.body.details[0].field).to.equal('body.email');
        expect((await api.request('GET', '/account', { token: user.token })).body.email).to.equal(user.email);

        const forgot = await api.request('POST', '/password/forgot', { body: { email } });
        expect(forgot.status).to.equal(400);
        expect(forgot.body.error).to.equal(INCORRECT_FIELD);

        expect(await mailTo(api, email.toLowerCase())).to.deep.equal([]);
        expect(await api.service.db('users').where({ email: email.toLowerCase() }).first()).to.equal(undefined);
      });
    }

    it('accepts a local part of 64 characters and a tag', async () => {
      for (const email of [`${'b'.repeat(64)}@example.com`, 'jane.doe+news@example.com']) {
        const user = await api.register({ email });
        expect(await mailTo(api, email)).to.deep.equal([SUBJECTS.verification]);
        const forgot = await api.request('POST', '/password/forgot', { body: { email } });
        expect(forgot.status).to.equal(202);
        expect(user.email).to.equal(email);
      }
    });
  });

  describe('a disabled account', () => {
    const disable = (id: number) => api.request('POST', `/admin/users/${id}/disable`, { token: adminToken });

    it('gets no reset link, and its answer is the same as an enabled account gets', async () => {
      const enabled = await api.register();
      const disabled = await api.register();
      expect((await disable(disabled.id)).status).to.equal(200);

      const answers = [];
      for (const user of [enabled, disabled]) {
        const reply = await api.request('POST', '/password/forgot', { body: { email: user.email } });
        const headers = [...reply.headers].filter(([name]) => !['date', 'x-request-id'].includes(name));
        answers.push({ status: reply.status, body: JSON.stringify(reply.body), headers });
      }
      expect(answers[0].status).to.equal(202);
      expect(answers[1]).to.deep.equal(answers[0]);

      // The domain's own call, awaited to its end: the same work the answers started.
      for (const user of [enabled, disabled]) {
        const { done } = await api.service.recovery.requestReset(user.email, ORIGIN);
        await done;
      }
      expect(await mailTo(api, enabled.email)).to.include(SUBJECTS.reset);
      expect(await mailTo(api, disabled.email)).to.not.include(SUBJECTS.reset);
      const events = await api.service.db('security_events').where({ user_id: disabled.id }).pluck('type');
      expect(events).to.not.include('password_reset_requested');
    });

    it('cannot use a reset link sent before it was disabled', async () => {
      const user = await api.register();
      const mark = await lastOutboxId(api.service.db);
      await api.request('POST', '/password/forgot', { body: { email: user.email } });
      const token = await tokenFromOutbox(api.service.db, user.email, SUBJECTS.reset, mark);
      expect((await disable(user.id)).status).to.equal(200);

      const reset = await api.request('POST', '/password/reset', { body: { token, password: 'a-brand-new-password' } });
      expect(reset.status).to.equal(400);
      expect(reset.body).to.deep.equal({ error: 'Invalid or expired reset token' });
      const enabled = await api.request('POST', `/admin/users/${user.id}/enable`, { token: adminToken });
      expect(enabled.status).to.equal(200);
      expect(
        (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status,
      ).to.equal(200);
    });
  });
});
