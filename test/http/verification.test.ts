// Email verification: registration and email changes mail a link, POST
// /email/verify uses its token once, GET /account shows the state, and with
// REQUIRE_VERIFIED_EMAIL an unverified account can do nothing else. Races
// are fired in parallel.
import { expect } from 'chai';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { ADMIN, startTestServer, tally, type TestServer } from '../support/server.js';
import { SUBJECTS } from '../support/smtp.js';

const VERIFIED = { message: 'Email address verified' };
const INVALID_TOKEN = { error: 'Invalid or expired verification token' };
const NOT_VERIFIED = { error: 'Email address not verified' };
const LINK_SENT = { message: 'A verification link is on its way' };

const verificationTokenFor = (api: TestServer, email: string, after = 0) =>
  tokenFromOutbox(api.service.db, email, SUBJECTS.verification, after);
/** How many verification messages to `email` were queued after outbox id `after`. */
const verificationLinksSince = async (api: TestServer, email: string, after: number) =>
  Number(
    (
      await api.service
        .db('mail_outbox')
        .where({ recipient: email, subject: SUBJECTS.verification })
        .andWhere('id', '>', after)
        .count({ n: '*' })
    )[0].n,
  );

describe('email verification', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ VERIFY_EMAIL_URL: 'https://app.example.com/verify?token={token}' });
  });
  after(() => api.close());

  it('mails a link on registration, verifies once, and shows it on the account', async () => {
    const startedAt = Date.now();
    const user = await api.register();
    const token = await verificationTokenFor(api, user.email);
    const mail = await api.service
      .db('mail_outbox')
      .where({ recipient: user.email, subject: SUBJECTS.verification })
      .first();
    expect(mail.text_body).to.include(`https://app.example.com/verify?token=${token}`);
    expect(mail.html_body).to.include(`href="https://app.example.com/verify?token=${token}"`);
    expect(JSON.stringify(await api.service.db('email_verification_tokens'))).to.not.include(token);

    const before = await api.request('GET', '/account', { token: user.token });
    expect(before.status).to.equal(200);
    expect(before.headers.get('cache-control')).to.equal('no-store');
    expect(before.body).to.include({ id: user.id, email: user.email, role: 'user', email_verified: false });
    expect(before.body.email_verified_at).to.equal(null);
    expect(Date.parse(before.body.created_at)).to.be.within(startedAt - 1000, Date.now());
    expect(before.body.password_changed_at).to.equal(before.body.created_at);

    const verified = await api.request('POST', '/email/verify', { body: { token } });
    expect(verified.status).to.equal(200);
    expect(verified.body).to.deep.equal(VERIFIED);
    const after = (await api.request('GET', '/account', { token: user.token })).body;
    expect(after.email_verified).to.equal(true);
    expect(Date.parse(after.email_verified_at)).to.be.within(startedAt - 1000, Date.now());

    const again = await api.request('POST', '/email/verify', { body: { token } });
    expect(again.status).to.equal(400);
    expect(again.body).to.deep.equal(INVALID_TOKEN);
    // The documented profile keeps its exact shape.
    const profile = await api.request('GET', `/users/${user.id}`, { token: user.token });
    expect(Object.keys(profile.body).sort()).to.deep.equal([
      'email',
      'first_name',
      'id',
      'last_name',
      'role',
      'user_name',
    ]);
    const events = await api.service.db('security_events').where({ user_id: user.id }).pluck('type');
    expect(events).to.include.members(['email_verification_sent', 'email_verified']);
  });

  it('lets exactly one of two simultaneous verifications with one token succeed', async () => {
    const user = await api.register();
    const token = await verificationTokenFor(api, user.email);
    const replies = await Promise.all([1, 2].map(() => api.request('POST', '/email/verify', { body: { token } })));
    expect(tally(replies)).to.deep.equal({ 200: 1, 400: 1 });
    expect(replies.find((r) => r.status === 400)!.body).to.deep.equal(INVALID_TOKEN);
  });

  it('refuses unknown and expired tokens, and a missing one as an incorrect field', async () => {
    const unknown = await api.request('POST', '/email/verify', { body: { token: 'no-such-token' } });
    expect(unknown.status).to.equal(400);
    expect(unknown.body).to.deep.equal(INVALID_TOKEN);
    const user = await api.register();
    const token = await verificationTokenFor(api, user.email);
    await api.service
      .db('email_verification_tokens')
      .where({ user_id: user.id })
      .update({ expires_at: Date.now() - 1 });
    expect((await api.request('POST', '/email/verify', { body: { token } })).body).to.deep.equal(INVALID_TOKEN);
    const missing = await api.request('POST', '/email/verify', { body: {} });
    expect(missing.status).to.equal(400);
    expect(missing.body.error).to.equal('Incorrect field');
  });

  it('sends a new link on request, voiding the older one, within a per-account limit taken in parallel', async () => {
    const user = await api.register();
    const first = await verificationTokenFor(api, user.email);
    const mark = await lastOutboxId(api.service.db);
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => api.request('POST', '/email/resend', { token: user.token })),
    );
    expect(tally(replies)).to.deep.equal({ 202: 3, 429: 3 });
    expect(replies.find((r) => r.status === 202)!.body).to.deep.equal(LINK_SENT);
    const limited = replies.find((r) => r.status === 429)!;
    expect(limited.body).to.deep.equal({ error: 'Too many requests' });
    expect(Number(limited.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(await verificationLinksSince(api, user.email, mark)).to.equal(3);

    const newest = await verificationTokenFor(api, user.email, mark);
    expect((await api.request('POST', '/email/verify', { body: { token: first } })).body).to.deep.equal(INVALID_TOKEN);
    expect((await api.request('POST', '/email/verify', { body: { token: newest } })).status).to.equal(200);
    const already = await api.request('POST', '/email/resend', { token: user.token });
    expect(already.status).to.equal(409);
    expect(already.body).to.deep.equal({ error: 'Email address is already verified' });
    expect((await api.request('POST', '/email/resend', {})).status).to.equal(401);
  });

  it('unverifies a changed email, mails the new address a link and the old one a notice, and voids reset links', async () => {
    const user = await api.register();
    const oldLink = await verificationTokenFor(api, user.email);
    expect((await api.request('POST', '/email/verify', { body: { token: oldLink } })).status).to.equal(200);
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const resetToken = await tokenFromOutbox(api.service.db, user.email, SUBJECTS.reset);

    const newEmail = `moved-${user.id}@example.com`;
    const changed = await api.request('PUT', `/users/update/${user.id}`, {
      token: user.token,
      body: { email: newEmail },
    });
    expect(changed.status).to.equal(200);
    const account = (await api.request('GET', '/account', { token: user.token })).body;
    expect(account).to.include({ email: newEmail, email_verified: false, email_verified_at: null });
    const notice = await api.service
      .db('mail_outbox')
      .where({ recipient: user.email, subject: SUBJECTS.emailChanged })
      .first();
    expect(notice.text_body).to.include('was changed');
    expect(notice.text_body).to.not.include(newEmail);
    const reset = await api.request('POST', '/password/reset', {
      body: { token: resetToken, password: 'reset-after-the-move' },
    });
    expect(reset.body).to.deep.equal({ error: 'Invalid or expired reset token' });

    const newLink = await verificationTokenFor(api, newEmail);
    expect((await api.request('POST', '/email/verify', { body: { token: newLink } })).status).to.equal(200);
    expect((await api.request('GET', '/account', { token: user.token })).body.email_verified).to.equal(true);
  });

  it('does not let a link sent to the old address verify the new one', async () => {
    const user = await api.register();
    const link = await verificationTokenFor(api, user.email);
    // An admin changes the email: the link to the old address must not verify it.
    const adminToken = await api.login(ADMIN.email, ADMIN.password);
    const changed = await api.request('PUT', `/users/update/${user.id}`, {
      token: adminToken,
      body: { email: `admin-moved-${user.id}@example.com` },
    });
    expect(changed.status).to.equal(200);
    expect((await api.request('POST', '/email/verify', { body: { token: link } })).body).to.deep.equal(INVALID_TOKEN);
    expect((await api.request('GET', '/account', { token: user.token })).body.email_verified).to.equal(false);
  });

  it('refuses a reset link for an address the account no longer has, however the change raced it', async () => {
    const user = await api.register();
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const token = await tokenFromOutbox(api.service.db, user.email, SUBJECTS.reset);
    // The outcome of a forgot request racing an email change: the link was
    // mailed to the old address, and the account has another one.
    await api.service
      .db('users')
      .where({ id: user.id })
      .update({ email: `raced-${user.id}@example.com` });
    const reset = await api.request('POST', '/password/reset', { body: { token, password: 'taken-over-password' } });
    expect(reset.status).to.equal(400);
    expect(reset.body).to.deep.equal({ error: 'Invalid or expired reset token' });
    const account = (await api.request('GET', '/account', { token: user.token })).body;
    expect(account).to.include({ email: `raced-${user.id}@example.com`, email_verified: false });
    expect(
      (await api.request('POST', '/login', { body: { email: account.email, password: user.password } })).status,
    ).to.equal(200);
  });

  it('mails at most the hourly share for email changes fired in parallel, and still applies each', async () => {
    const user = await api.register();
    const mark = await lastOutboxId(api.service.db);
    const addresses = [1, 2, 3, 4, 5].map((n) => `hop${n}-${user.id}@example.com`);
    const replies = await Promise.all(
      addresses.map((email) => api.request('PUT', `/users/update/${user.id}`, { token: user.token, body: { email } })),
    );
    expect(tally(replies)).to.deep.equal({ 200: 5 });
    const mailed = await api.service
      .db('mail_outbox')
      .where('id', '>', mark)
      .select<{ recipient: string; subject: string }[]>('recipient', 'subject');
    // The registration took no place; three changes did, each with a link and a notice.
    expect(mailed.filter((m) => m.subject === SUBJECTS.verification)).to.have.length(3);
    expect(mailed.filter((m) => m.subject === SUBJECTS.emailChanged)).to.have.length(3);
    const { email } = (await api.request('GET', '/account', { token: user.token })).body;
    expect(addresses).to.include(email);
  });

  it('keeps the verification when a profile change leaves the email as it was', async () => {
    const user = await api.register();
    await api.request('POST', '/email/verify', { body: { token: await verificationTokenFor(api, user.email) } });
    const same = await api.request('PUT', `/users/update/${user.id}`, {
      token: user.token,
      body: { email: ` ${user.email.toUpperCase()} `, first_name: 'Renamed' },
    });
    expect(same.status).to.equal(200);
    expect((await api.request('GET', '/account', { token: user.token })).body).to.include({
      first_name: 'Renamed',
      email_verified: true,
    });
  });

  it('counts a password reset by mail as proof of the address, and records when the password changed', async () => {
    const user = await api.register();
    const createdAt = (await api.request('GET', '/account', { token: user.token })).body.created_at;
    await api.request('POST', '/password/forgot', { body: { email: user.email } });
    const token = await tokenFromOutbox(api.service.db, user.email, SUBJECTS.reset);
    expect(
      (await api.request('POST', '/password/reset', { body: { token, password: 'reset-proves-mail' } })).status,
    ).to.equal(200);
    const fresh = await api.login(user.email, 'reset-proves-mail');
    const account = (await api.request('GET', '/account', { token: fresh })).body;
    expect(account.email_verified).to.equal(true);
    expect(Date.parse(account.password_changed_at)).to.be.greaterThan(Date.parse(createdAt));
  });

  it('starts accounts made by an operator verified, and answers 401 without a token', async () => {
    const adminToken = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('GET', '/account', { token: adminToken })).body.email_verified).to.equal(true);
    const anonymous = await api.request('GET', '/account');
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
  });
});

describe('REQUIRE_VERIFIED_EMAIL', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ REQUIRE_VERIFIED_EMAIL: 'true', EMAIL_VERIFICATION_REQUESTS_PER_USER: '2' });
  });
  after(() => api.close());

  it('lets an unverified account only verify, ask for a link and log out', async () => {
    const user = await api.register();
    for (const [method, path, body] of [
      ['GET', '/protected'],
      ['GET', '/account'],
      ['GET', `/users/${user.id}`],
      ['GET', '/users/pagination'],
      ['PUT', `/users/update/${user.id}`, { first_name: 'X' }],
      ['PUT', `/users/update_password/${user.id}`, { existing_password: user.password, password: 'a-new-password!' }],
    ] as const) {
      const reply = await api.request(method, path, { token: user.token, body });
      expect(reply.status, `${method} ${path}`).to.equal(403);
      expect(reply.body, `${method} ${path}`).to.deep.equal(NOT_VERIFIED);
    }
    // Validation still comes first, as the contract orders the checks.
    expect((await api.request('GET', '/users/not-a-number', { token: user.token })).status).to.equal(400);
    // The password change above was refused before it ran.
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: 'a-new-password!' } })).status,
    ).to.equal(401);
    expect((await api.request('POST', '/email/resend', { token: user.token })).status).to.equal(202);

    const token = await verificationTokenFor(api, user.email);
    expect((await api.request('POST', '/email/verify', { body: { token } })).status).to.equal(200);
    // The very next request sees the verified email.
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(200);
    expect((await api.request('POST', '/logout', { token: user.token })).status).to.equal(200);
  });

  it('lets an unverified account log out', async () => {
    const user = await api.register();
    expect((await api.request('POST', '/logout', { token: user.token })).status).to.equal(200);
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
  });

  it('refuses an unverified login with the right password only, and sends a new link within the limit', async () => {
    const user = await api.register();
    const mark = await lastOutboxId(api.service.db);
    const wrong = await api.request('POST', '/login', { body: { email: user.email, password: 'not-the-password' } });
    expect(wrong.status).to.equal(401);
    const refused = await Promise.all(
      [1, 2, 3].map(() => api.request('POST', '/login', { body: { email: user.email, password: user.password } })),
    );
    expect(tally(refused)).to.deep.equal({ 403: 3 });
    expect(refused[0].body).to.deep.equal(NOT_VERIFIED);
    // Two links (the limit), and no session was opened.
    expect(await verificationLinksSince(api, user.email, mark)).to.equal(2);
    expect(Number((await api.service.db('sessions').where({ user_id: user.id }).count({ n: '*' }))[0].n)).to.equal(1);
    // Refused logins with the right password are no guesses: with these three more wrong
    // ones, four count against the strict limit (5), and the right password still gets in.
    for (let i = 0; i < 3; i++) {
      await api.request('POST', '/login', { body: { email: user.email, password: 'still-not-it' } });
    }
    const token = await verificationTokenFor(api, user.email, mark);
    expect((await api.request('POST', '/email/verify', { body: { token } })).status).to.equal(200);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status,
    ).to.equal(200);
  });

  it('lets an operator-made account in at once', async () => {
    expect(
      (await api.request('POST', '/login', { body: { email: ADMIN.email, password: ADMIN.password } })).status,
    ).to.equal(200);
  });
});
