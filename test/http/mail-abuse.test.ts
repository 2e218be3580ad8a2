// Mail that could be turned against the one who receives it: a cap on the
// messages to one address whatever account or request they come from,
// addresses a relay could reroute, reset links to disabled accounts, and mail
// places that failed requests must give back. Races are fired in parallel.
import { expect } from 'chai';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';
import { SUBJECTS } from '../support/smtp.js';

const CAP = 5;
const ORIGIN = { address: '198.51.100.7', requestId: 'mail-abuse-test' };

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
