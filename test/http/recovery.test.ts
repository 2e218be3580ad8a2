// Forgotten passwords: POST /password/forgot queues a link in the mail outbox,
// POST /password/reset uses its token once. Races are fired in parallel.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { lastOutboxId as lastIdIn, tokenFromOutbox } from '../support/outbox.js';
import { startTestServer, tally, type TestServer } from '../support/server.js';
import { SUBJECTS } from '../support/smtp.js';

const FORGOT_ANSWER = { message: 'If an account has this email, a reset link is on its way' };
const INVALID_TOKEN = { error: 'Invalid or expired reset token' };

/** The token in the newest reset mail to `email`, once it is in the outbox. */
const resetTokenFor = (api: TestServer, email: string, after = 0) =>
  tokenFromOutbox(api.service.db, email, SUBJECTS.reset, after);
const lastOutboxId = (api: TestServer) => lastIdIn(api.service.db);

describe('password reset', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ RESET_PASSWORD_URL: 'https://app.example.com/reset?token={token}' });
  });
  after(() => api.close());

  it('mails a link, resets the password once, ends every session, and logs in with the new password', async () => {
    const user = await api.register();
    const forgot = await api.request('POST', '/password/forgot', { body: { email: ` ${user.email.toUpperCase()} ` } });
    expect(forgot.status).to.equal(202);
    expect(forgot.body).to.deep.equal(FORGOT_ANSWER);
    const token = await resetTokenFor(api, user.email);
    const mail = await api.service.db('mail_outbox').where({ recipient: user.email, subject: SUBJECTS.reset }).first();
    expect(mail.text_body).to.include(`https://app.example.com/reset?token=${token}`);
    expect(mail.html_body).to.include(`href="https://app.example.com/reset?token=${token}"`);
    // Only a hash of the token is kept.
    expect(JSON.stringify(await api.service.db('password_reset_tokens'))).to.not.include(token);

    const reset = await api.request('POST', '/password/reset', { body: { token, password: 'a-brand-new-password' } });
    expect(reset.status).to.equal(200);
    expect(reset.body).to.deep.equal({ message: 'Password has been reset' });
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status,
    ).to.equal(401);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: 'a-brand-new-password' } })).status,
    ).to.equal(200);
    const again = await api.request('POST', '/password/reset', { body: { token, password: 'another-new-password' } });
    expect(again.status).to.equal(400);
    expect(again.body).to.deep.equal(INVALID_TOKEN);
    const events = await api.service.db('security_events').where({ user_id: user.id }).pluck('type');
    expect(events).to.include.members(['password_reset_requested', 'password_reset']);
  });

  it('answers an unknown email exactly like a known one, and mails nothing', async () => {
    const before = await lastOutboxId(api);
    const reply = await api.request('POST', '/password/forgot', { body: { email: 'nobody-here@example.com' } });
    expect(reply.status).to.equal(202);
    expect(reply.body).to.deep.equal(FORGOT_ANSWER);
    await sleep(300);
    expect(await lastOutboxId(api)).to.equal(before);
  });

  it('lets exactly one of two simultaneous resets with one token succeed', async () => {
    const user = await api.register();
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const token = await resetTokenFor(api, user.email);
    const replies = await Promise.all(
      ['first-racing-password', 'second-racing-password'].map((password) =>
        api.request('POST', '/password/reset', { body: { token, password } }),
      ),
    );
    expect(tally(replies)).to.deep.equal({ 200: 1, 400: 1 });
    expect(replies.find((r) => r.status === 400)!.body).to.deep.equal(INVALID_TOKEN);
  });

  it('voids older links when a newer one is asked for, and refuses expired ones', async () => {
    const user = await api.register();
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const older = await resetTokenFor(api, user.email);
    const mark = await lastOutboxId(api);
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const newer = await resetTokenFor(api, user.email, mark);
    expect(
      (await api.request('POST', '/password/reset', { body: { token: older, password: 'password-from-old-link' } }))
        .body,
    ).to.deep.equal(INVALID_TOKEN);
    await api.service
      .db('password_reset_tokens')
      .where({ user_id: user.id })
      .update({ expires_at: Date.now() - 1 });
    const expired = await api.request('POST', '/password/reset', {
      body: { token: newer, password: 'password-from-new-link' },
    });
    expect(expired.status).to.equal(400);
    expect(expired.body).to.deep.equal(INVALID_TOKEN);
  });

  it('voids a pending link when the password is changed another way', async () => {
    const user = await api.register();
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const token = await resetTokenFor(api, user.email);
    const changed = await api.request('PUT', `/users/update_password/${user.id}`, {
      token: user.token,
      body: { existing_password: user.password, password: 'changed-by-the-owner' },
    });
    expect(changed.status).to.equal(200);
    const reset = await api.request('POST', '/password/reset', { body: { token, password: 'set-through-old-link' } });
    expect(reset.status).to.equal(400);
    expect(reset.body).to.deep.equal(INVALID_TOKEN);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: 'changed-by-the-owner' } })).status,
    ).to.equal(200);
  });

  it('applies the password policy without using the token up', async () => {
    const user = await api.register();
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const token = await resetTokenFor(api, user.email);
    const weak = await api.request('POST', '/password/reset', { body: { token, password: 'password123' } });
    expect(weak.status).to.equal(400);
    expect(weak.body.error).to.equal('Incorrect field');
    expect(
      (await api.request('POST', '/password/reset', { body: { token, password: 'a-better-password-now' } })).status,
    ).to.equal(200);
  });
});

describe('password reset limits', function () {
  this.timeout(60_000);
  it('count requests per email and per address, in parallel, before any work', async () => {
    const api = await startTestServer({
      PASSWORD_RESET_REQUESTS_PER_EMAIL: '2',
      PASSWORD_RESET_REQUESTS_PER_ADDRESS: '6',
    });
    try {
      const user = await api.register();
      const sameEmail = await Promise.all(
        Array.from({ length: 5 }, () => api.request('POST', '/password/forgot', { body: { email: user.email } })),
      );
      expect(tally(sameEmail)).to.deep.equal({ 202: 2, 429: 3 });
      for (const reply of sameEmail.filter((r) => r.status === 429)) {
        expect(reply.body).to.deep.equal({ error: 'Too many requests' });
        expect(Number(reply.headers.get('retry-after'))).to.be.within(1, 3600);
      }
      const spread = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          api.request('POST', '/password/forgot', { body: { email: `spread${i}@example.com` } }),
        ),
      );
      // Two places of this address went to the requests above; refused ones take none.
      expect(tally(spread)).to.deep.equal({ 202: 4, 429: 4 });
    } finally {
      await api.close();
    }
  });
});
