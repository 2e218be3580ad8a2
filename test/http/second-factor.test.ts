// The second factor (TOTP and recovery codes) through the HTTP API: enrolment,
// the login's 202 and its completion, and the single-use rules and caps,
// each race fired in parallel. On the test backend (SQLite, or PostgreSQL
// with TEST_DATABASE=postgres); the replay also across two worker processes.
import { expect } from 'chai';
import { connectTo, createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { ADMIN, startTestServer, tally, TEST_SECRET, type TestServer } from '../support/server.js';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { SUBJECTS } from '../support/smtp.js';
import { awayFromStepBoundary, codeFor } from '../support/totp.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
const INVALID_CODE = { error: 'Invalid code' };
const INVALID_MFA_TOKEN = { error: 'Invalid or expired MFA token' };

describe('the second factor', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  /** A user with TOTP confirmed (with the previous step's code, so this step's is unused) and its recovery codes. */
  async function enrolledUser() {
    await awayFromStepBoundary();
    const user = await api.register();
    const started = await api.request('POST', '/account/mfa/totp', { token: user.token });
    expect(started.status, JSON.stringify(started.body)).to.equal(200);
    const secret = started.body.secret as string;
    const confirmed = await api.request('POST', '/account/mfa/totp/confirm', {
      token: user.token,
      body: { code: codeFor(secret, -1) },
    });
    expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(200);
    return { ...user, secret, recoveryCodes: confirmed.body.recovery_codes as string[] };
  }

  const login = (user: { email: string; password: string }) =>
    api.request('POST', '/login', { body: { email: user.email, password: user.password } });

  async function mfaTokens(user: { email: string; password: string }, count: number): Promise<string[]> {
    const replies = await Promise.all(Array.from({ length: count }, () => login(user)));
    for (const reply of replies) expect(reply.status, JSON.stringify(reply.body)).to.equal(202);
    return replies.map((reply) => reply.body.mfa_token as string);
  }

  it('enrols an app: a secret, its otpauth URI and a QR code, active only once a code confirms it', async () => {
    const user = await api.register();
    const other = await api.login(user.email, user.password);
    const started = await api.request('POST', '/account/mfa/totp', { token: user.token });
    expect(started.status).to.equal(200);
    expect(started.headers.get('cache-control')).to.equal('no-store');
    const { secret, otpauth_uri, qr_svg } = started.body;
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    expect(otpauth_uri).to.equal(
      `otpauth://totp/User%20Service:${encodeURIComponent(user.email)}?issuer=User%20Service&secret=${secret}&algorithm=SHA1&digits=6&period=30`,
    );
    expect(qr_svg).to.match(/^<svg[\s\S]*<\/svg>$/);
    // Not active yet: a login still answers 200.
    expect((await login(user)).status).to.equal(200);
    expect((await api.request('GET', '/account', { token: user.token })).body).to.include({
      mfa_enabled: false,
      recovery_codes_left: 0,
    });

    const wrong = await api.request('POST', '/account/mfa/totp/confirm', {
      token: user.token,
      body: { code: '000000' },
    });
    expect(wrong.status === 400 ? wrong.body : undefined).to.deep.equal(
      codeFor(secret) === '000000' ? undefined : INVALID_CODE,
    );
    await awayFromStepBoundary();
    const confirmed = await api.request('POST', '/account/mfa/totp/confirm', {
      token: user.token,
      body: { code: codeFor(secret) },
    });
    expect(confirmed.status).to.equal(200);
    const codes = confirmed.body.recovery_codes as string[];
    expect(codes).to.have.length(10);
    for (const code of codes) expect(code).to.match(/^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(new Set(codes).size).to.equal(10);
    expect((await api.request('GET', '/account', { token: user.token })).body).to.include({
      mfa_enabled: true,
      recovery_codes_left: 10,
    });
    // The other session ended; this one counts both factors.
    expect((await api.request('GET', '/protected', { token: other })).status).to.equal(401);
    const sessions = await api.request('GET', '/sessions', { token: user.token });
    expect(sessions.body.sessions.map((s: { methods: string[] }) => s.methods)).to.deep.equal([['pwd', 'otp']]);
    // Enrolling again while active: 409.
    const again = await api.request('POST', '/account/mfa/totp', { token: user.token });
    expect([again.status, again.body]).to.deep.equal([409, { error: 'Second factor already active' }]);
    // The secret is sealed at rest.
    const row = await api.service.db('totp_factors').where({ user_id: user.id }).first('secret');
    expect(row.secret).to.be.a('string').and.not.include(secret);
  });

  it('answers a login 202 with an mfa_token that no operation accepts, and completes it with a code: amr pwd, otp', async () => {
    const user = await enrolledUser();
    const pending = await login(user);
    expect(pending.status).to.equal(202);
    expect(Object.keys(pending.body).sort()).to.deep.equal(['expires_at', 'methods', 'mfa_required', 'mfa_token']);
    expect(pending.body).to.include({ mfa_required: true });
    expect(pending.body.methods).to.deep.equal(['totp', 'recovery_code']);
    const ttl = new Date(pending.body.expires_at).getTime() - Date.now();
    expect(ttl).to.be.within(290_000, 300_000);
    expect((await api.request('GET', '/protected', { token: pending.body.mfa_token })).status).to.equal(401);

    const done = await api.request('POST', '/login/mfa', {
      body: { mfa_token: pending.body.mfa_token, code: codeFor(user.secret) },
    });
    expect(done.status, JSON.stringify(done.body)).to.equal(200);
    expect(Object.keys(done.body).sort()).to.deep.equal(['access_token', 'expires_at', 'refresh_token']);
    const claims = claimsOf(done.body.access_token);
    expect(claims.amr).to.deep.equal(['pwd', 'otp']);
    expect((await api.request('GET', '/protected', { token: done.body.access_token })).status).to.equal(200);
    // Single-use: the token is spent.
    const reused = await api.request('POST', '/login/mfa', {
      body: { mfa_token: pending.body.mfa_token, code: codeFor(user.secret, 1) },
    });
    expect([reused.status, reused.body]).to.deep.equal([401, INVALID_MFA_TOKEN]);
    // A refresh keeps the session's methods, and never adds to them.
    const refreshed = await api.request('POST', '/token/refresh', { body: { refresh_token: done.body.refresh_token } });
    expect(claimsOf(refreshed.body.access_token)).to.deep.include({ amr: ['pwd', 'otp'], auth_time: claims.auth_time });
  });

  it('accepts a time step once per account: the same code on five mfa_tokens at once signs in once', async () => {
    const user = await enrolledUser();
    const tokens = await mfaTokens(user, 5);
    const code = codeFor(user.secret);
    const answers = await Promise.all(
      tokens.map((mfa_token) => api.request('POST', '/login/mfa', { body: { mfa_token, code } })),
    );
    expect(tally(answers)).to.deep.equal({ 200: 1, 401: 4 });
    for (const answer of answers.filter((a) => a.status === 401)) expect(answer.body).to.deep.equal(INVALID_CODE);
    // An older step after a newer one was used: refused too.
    const [next] = await mfaTokens(user, 1);
    const older = await api.request('POST', '/login/mfa', {
      body: { mfa_token: next, code: codeFor(user.secret, -1) },
    });
    expect([older.status, older.body]).to.deep.equal([401, INVALID_CODE]);
  });

  it('completes one pending login once: a code and a recovery code on one mfa_token at once, one session', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const answers = await Promise.all([
      api.request('POST', '/login/mfa', { body: { mfa_token, code: codeFor(user.secret) } }),
      api.request('POST', '/login/mfa', { body: { mfa_token, recovery_code: user.recoveryCodes[0] } }),
    ]);
    expect(tally(answers)).to.deep.equal({ 200: 1, 401: 1 });
    const [row] = await api.service.db('sessions').where({ user_id: user.id }).count({ n: '*' });
    expect(Number(row.n), 'the enrolment session and one new one').to.equal(2);
  });

  it('confirms an enrolment once when one code is sent twice at once', async () => {
    await awayFromStepBoundary();
    const user = await api.register();
    const { secret } = (await api.request('POST', '/account/mfa/totp', { token: user.token })).body;
    const code = codeFor(secret);
    const answers = await Promise.all(
      [1, 2].map(() => api.request('POST', '/account/mfa/totp/confirm', { token: user.token, body: { code } })),
    );
    expect(tally(answers)).to.deep.equal({ 200: 1, 400: 1 });
    expect(answers.find((a) => a.status === 400)!.body).to.deep.equal(INVALID_CODE);
    const [row] = await api.service.db('recovery_codes').where({ user_id: user.id }).count({ n: '*' });
    expect(Number(row.n)).to.equal(10);
  });

  it('accepts a recovery code once (two at once: one wins), written any case and without dashes', async () => {
    const user = await enrolledUser();
    const tokens = await mfaTokens(user, 2);
    const typed = user.recoveryCodes[0].toLowerCase().replaceAll('-', '');
    const answers = await Promise.all(
      tokens.map((mfa_token) => api.request('POST', '/login/mfa', { body: { mfa_token, recovery_code: typed } })),
    );
    expect(tally(answers)).to.deep.equal({ 200: 1, 401: 1 });
    expect(answers.find((a) => a.status === 401)!.body).to.deep.equal(INVALID_CODE);
    const winner = answers.find((a) => a.status === 200)!;
    expect(claimsOf(winner.body.access_token).amr).to.deep.equal(['pwd', 'otp']);
    expect(
      (await api.request('GET', '/account', { token: winner.body.access_token })).body.recovery_codes_left,
    ).to.equal(9);
  });

  it('checks at most 5 codes per mfa_token: 50 wrong codes at once, then it is void', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const right = codeFor(user.secret);
    const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => api.request('POST', '/login/mfa', { body: { mfa_token, code: wrong(i) } })),
    );
    const checked = answers.filter((a) => JSON.stringify(a.body) === JSON.stringify(INVALID_CODE)).length;
    const refused = answers.filter((a) => JSON.stringify(a.body) === JSON.stringify(INVALID_MFA_TOKEN)).length;
    expect({ checked, refused }).to.deep.equal({ checked: 5, refused: 45 });
    const late = await api.request('POST', '/login/mfa', { body: { mfa_token, code: right } });
    expect([late.status, late.body]).to.deep.equal([401, INVALID_MFA_TOKEN]);
  });

  it('answers 429 past MFA_MAX_FAILURES_PER_USER wrong codes, for that account only, never its password step', async () => {
    const user = await enrolledUser();
    const bystander = await enrolledUser();
    const tokens = await mfaTokens(user, 4); // 20 checks, over the 10 allowed
    const answers = await Promise.all(
      tokens.flatMap((mfa_token) =>
        Array.from({ length: 5 }, (_, i) =>
          api.request('POST', '/login/mfa', { body: { mfa_token, code: String(100_000 + i) } }),
        ),
      ),
    );
    const wrong = answers.filter((a) => a.status === 401 && a.body.error === 'Invalid code').length;
    expect(wrong, JSON.stringify(tally(answers))).to.equal(10);
    expect(answers.filter((a) => a.status === 429).length).to.be.greaterThan(0);
    // The password step still answers 202; completing it is refused for now.
    const [fresh] = await mfaTokens(user, 1);
    const capped = await api.request('POST', '/login/mfa', { body: { mfa_token: fresh, code: codeFor(user.secret) } });
    expect([capped.status, capped.body]).to.deep.equal([429, { error: 'Too many requests' }]);
    expect(capped.headers.get('retry-after')).to.match(/^\d+$/);
    // Another account is not affected.
    const [theirs] = await mfaTokens(bystander, 1);
    const ok = await api.request('POST', '/login/mfa', {
      body: { mfa_token: theirs, code: codeFor(bystander.secret) },
    });
    expect(ok.status).to.equal(200);
  });

  it('removes the factor and renews the recovery codes given a current code; logins need only the password again', async () => {
    const user = await enrolledUser();
    const renewed = await api.request('POST', '/account/mfa/recovery-codes', {
      token: user.token,
      body: { code: codeFor(user.secret) },
    });
    expect(renewed.status).to.equal(200);
    const [mfa_token] = await mfaTokens(user, 1);
    const oldCode = await api.request('POST', '/login/mfa', {
      body: { mfa_token, recovery_code: user.recoveryCodes[1] },
    });
    expect([oldCode.status, oldCode.body]).to.deep.equal([401, INVALID_CODE]);
    const removed = await api.request('POST', '/account/mfa/totp/remove', {
      token: user.token,
      body: { recovery_code: renewed.body.recovery_codes[0] },
    });
    expect([removed.status, removed.body]).to.deep.equal([200, { message: 'Second factor removed' }]);
    expect((await login(user)).status).to.equal(200);
    const none = await api.request('POST', '/account/mfa/totp/remove', { token: user.token, body: { code: '123456' } });
    expect([none.status, none.body]).to.deep.equal([409, { error: 'No second factor active' }]);
  });

  it('refuses a pending login 403 once an admin has disabled the account', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const admin = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('POST', `/admin/users/${user.id}/disable`, { token: admin })).status).to.equal(200);
    const refused = await api.request('POST', '/login/mfa', { body: { mfa_token, code: codeFor(user.secret) } });
    expect([refused.status, refused.body]).to.deep.equal([403, { error: 'Account disabled' }]);
  });

  it('lets an admin reset a locked-out user: factor, codes and pending logins gone, sessions ended, audited', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const admin = await api.login(ADMIN.email, ADMIN.password);
    const asUser = await api.request('DELETE', `/admin/users/${user.id}/mfa`, { token: user.token });
    expect([asUser.status, asUser.body]).to.deep.equal([403, { error: 'Forbidden' }]);
    const reset = await api.request('DELETE', `/admin/users/${user.id}/mfa`, { token: admin });
    expect([reset.status, reset.body]).to.deep.equal([200, { message: 'Second factor reset' }]);
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    const late = await api.request('POST', '/login/mfa', { body: { mfa_token, code: codeFor(user.secret) } });
    expect([late.status, late.body]).to.deep.equal([401, INVALID_MFA_TOKEN]);
    expect((await login(user)).status).to.equal(200);
    const audit = await api.request('GET', `/admin/audit?user_id=${user.id}&type=second_factor_reset`, {
      token: admin,
    });
    expect(audit.body.events).to.have.length(1);
    const unknown = await api.request('DELETE', '/admin/users/999999/mfa', { token: admin });
    expect([unknown.status, unknown.body]).to.deep.equal([404, { error: 'User not found' }]);
  });

  it('tells the owner by mail when the factor is removed or reset, codes are renewed, or a recovery code signs in', async () => {
    const subjectsTo = async (email: string) =>
      (await api.service.db('mail_outbox').where({ recipient: email }).orderBy('id').select('subject')).map(
        (row: { subject: string }) => row.subject,
      );
    const user = await enrolledUser();
    const before = await subjectsTo(user.email);
    const [mfa_token] = await mfaTokens(user, 1);
    await api.request('POST', '/login/mfa', { body: { mfa_token, recovery_code: user.recoveryCodes[0] } });
    await api.request('POST', '/account/mfa/recovery-codes', {
      token: user.token,
      body: { code: codeFor(user.secret) },
    });
    await api.request('POST', '/account/mfa/totp/remove', {
      token: user.token,
      body: { code: codeFor(user.secret, 1) },
    });
    const other = await enrolledUser();
    const admin = await api.login(ADMIN.email, ADMIN.password);
    await api.request('DELETE', `/admin/users/${other.id}/mfa`, { token: admin });
    expect((await subjectsTo(user.email)).slice(before.length)).to.deep.equal([
      'A recovery code was used to sign in',
      'New recovery codes were made',
      'Two-step sign-in was turned off',
    ]);
    expect((await subjectsTo(other.email)).at(-1)).to.equal('Two-step sign-in was reset by an administrator');
  });

  it('never signs in around the factor: a password reset ends sessions, and the next login still needs a code', async () => {
    const user = await enrolledUser();
    const before = await lastOutboxId(api.service.db);
    expect((await api.request('POST', '/password/forgot', { body: { email: user.email } })).status).to.equal(202);
    const token = await tokenFromOutbox(api.service.db, user.email, SUBJECTS.reset, before);
    const reset = await api.request('POST', '/password/reset', {
      body: { token, password: 'reset-around-the-factor' },
    });
    expect(Object.keys(reset.body)).to.deep.equal(['message']); // no token in the answer
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    const next = await api.request('POST', '/login', {
      body: { email: user.email, password: 'reset-around-the-factor' },
    });
    expect(next.status).to.equal(202);
  });

  it('voids a pending login when the account is deleted', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const admin = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('DELETE', `/admin/users/${user.id}`, { token: admin })).status).to.equal(200);
    const late = await api.request('POST', '/login/mfa', { body: { mfa_token, code: codeFor(user.secret) } });
    expect([late.status, late.body]).to.deep.equal([401, INVALID_MFA_TOKEN]);
  });

  it('voids a pending login when the password is reset or changed', async () => {
    const user = await enrolledUser();
    const [mfa_token] = await mfaTokens(user, 1);
    const changed = await api.request('PUT', `/users/update_password/${user.id}`, {
      token: user.token,
      body: { existing_password: user.password, password: 'a-brand-new-password-1' },
    });
    expect(changed.status).to.equal(200);
    const late = await api.request('POST', '/login/mfa', { body: { mfa_token, code: codeFor(user.secret) } });
    expect([late.status, late.body]).to.deep.equal([401, INVALID_MFA_TOKEN]);
  });
});

describe('recent authentication', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ REAUTH_MAX_AGE_SECONDS: '3' });
  });
  after(() => api.close());

  it('refuses a sensitive change 403 once the session proved its user too long ago, until it reauthenticates', async () => {
    const user = await api.register();
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const stale = await api.request('POST', '/account/mfa/totp', { token: user.token });
    expect([stale.status, stale.body]).to.deep.equal([403, { error: 'Recent authentication required' }]);
    const wrong = await api.request('POST', '/account/reauthenticate', {
      token: user.token,
      body: { password: 'not-the-password' },
    });
    expect([wrong.status, wrong.body]).to.deep.equal([400, { error: 'Invalid request: Password is incorrect' }]);
    await awayFromStepBoundary(); // before the renewal: the steps below need it recent
    const renewed = await api.request('POST', '/account/reauthenticate', {
      token: user.token,
      body: { password: user.password },
    });
    expect(renewed.status).to.equal(200);
    expect(new Date(renewed.body.recent_until).getTime() - new Date(renewed.body.authenticated_at).getTime()).to.equal(
      3000,
    );
    const started = await api.request('POST', '/account/mfa/totp', { token: user.token });
    expect(started.status).to.equal(200);
    // With a factor active, the password alone does not renew it.
    const confirmed = await api.request('POST', '/account/mfa/totp/confirm', {
      token: user.token,
      body: { code: codeFor(started.body.secret, -1) },
    });
    expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(200);
    const passwordOnly = await api.request('POST', '/account/reauthenticate', {
      token: user.token,
      body: { password: user.password },
    });
    expect([passwordOnly.status, passwordOnly.body]).to.deep.equal([400, INVALID_CODE]);
    const withCode = await api.request('POST', '/account/reauthenticate', {
      token: user.token,
      body: { password: user.password, code: codeFor(started.body.secret) },
    });
    expect(withCode.status).to.equal(200);
  });
});

describe('MFA_REQUIRED_ROLES', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ MFA_REQUIRED_ROLES: 'admin, moderator' });
  });
  after(() => api.close());

  it('lets an admin without a factor sign in, read the account, enrol and log out, and nothing else until enrolled', async () => {
    const admin = await api.login(ADMIN.email, ADMIN.password);
    const required = [403, { error: 'Second factor required' }];
    for (const [method, path] of [
      ['GET', '/admin/users?q=a'],
      ['GET', '/protected'],
      ['GET', '/sessions'],
    ]) {
      const refused = await api.request(method, path, { token: admin });
      expect([refused.status, refused.body], path).to.deep.equal(required);
    }
    expect((await api.request('GET', '/account', { token: admin })).status).to.equal(200);
    await awayFromStepBoundary();
    const started = await api.request('POST', '/account/mfa/totp', { token: admin });
    expect(started.status).to.equal(200);
    const confirmed = await api.request('POST', '/account/mfa/totp/confirm', {
      token: admin,
      body: { code: codeFor(started.body.secret, -1) },
    });
    expect(confirmed.status).to.equal(200);
    // The same session now counts both factors.
    expect((await api.request('GET', '/admin/users?q=a', { token: admin })).status).to.equal(200);
    // A plain user is not asked for one.
    const user = await api.register();
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(200);
  });
});

describe('the second factor across two worker processes', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let server: ServerProcess;
  before(async () => {
    database = await createTestDatabase();
    server = await startServerProcess({
      DATABASE_URL: database.url,
      SIGNING_KEYS_SECRET: TEST_SECRET,
      WEB_CONCURRENCY: '2',
      REGISTRATIONS_PER_ADDRESS: '0',
      // The 18 losing codes below would pass the default 10 wrong codes an account may send.
      MFA_MAX_FAILURES_PER_USER: '100',
    });
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
  });

  const send = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(server.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('signs in once when one code is sent on ten mfa_tokens at once, and one recovery code on ten more', async () => {
    await awayFromStepBoundary(5000);
    const user = { email: 'two-workers@example.com', password: 'two-workers-password' };
    const registered = await send('POST', '/users', {
      ...user,
      user_name: 'two_workers',
      first_name: 'T',
      last_name: 'W',
    });
    const started = await send('POST', '/account/mfa/totp', undefined, registered.body.JWT);
    const confirmed = await send(
      'POST',
      '/account/mfa/totp/confirm',
      { code: codeFor(started.body.secret, -1) },
      registered.body.JWT,
    );
    expect(confirmed.status).to.equal(200);
    const tokens = async (count: number) =>
      (await Promise.all(Array.from({ length: count }, () => send('POST', '/login', user)))).map((reply) => {
        expect(reply.status).to.equal(202);
        return reply.body.mfa_token as string;
      });
    const code = codeFor(started.body.secret);
    const byCode = await Promise.all(
      (await tokens(10)).map((mfa_token) => send('POST', '/login/mfa', { mfa_token, code })),
    );
    expect(tally(byCode)).to.deep.equal({ 200: 1, 401: 9 });
    const recovery_code = confirmed.body.recovery_codes[0];
    const byRecovery = await Promise.all(
      (await tokens(10)).map((mfa_token) => send('POST', '/login/mfa', { mfa_token, recovery_code })),
    );
    expect(tally(byRecovery)).to.deep.equal({ 200: 1, 401: 9 });
    // One token, a code and a recovery code at once on both workers: one session.
    const [shared] = await tokens(1);
    const both = await Promise.all([
      send('POST', '/login/mfa', { mfa_token: shared, code: codeFor(started.body.secret, 1) }),
      send('POST', '/login/mfa', { mfa_token: shared, recovery_code: confirmed.body.recovery_codes[1] }),
    ]);
    expect(tally(both)).to.deep.equal({ 200: 1, 401: 1 });
    // One token, 50 wrong codes at once across both workers: 5 are checked.
    const [mfa_token] = await tokens(1);
    const wrong = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send('POST', '/login/mfa', { mfa_token, code: String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0') }),
      ),
    );
    const texts = wrong.map((reply) => (reply.body as { error: string }).error);
    expect(texts.filter((text) => text === 'Invalid code')).to.have.length(5);
    expect(texts.filter((text) => text === 'Invalid or expired MFA token')).to.have.length(45);
  });

  it('caps wrong codes per account across both workers (MFA_MAX_FAILURES_PER_USER=100): 125 at once, 100 checked', async () => {
    const user = { email: 'capped-two-workers@example.com', password: 'capped-two-workers-password' };
    const registered = await send('POST', '/users', {
      ...user,
      user_name: 'capped_two',
      first_name: 'C',
      last_name: 'T',
    });
    const token = registered.body.JWT as string;
    const started = await send('POST', '/account/mfa/totp', undefined, token);
    await send('POST', '/account/mfa/totp/confirm', { code: codeFor(started.body.secret, -1) }, token);
    const pending = await Promise.all(Array.from({ length: 25 }, () => send('POST', '/login', user)));
    const right = codeFor(started.body.secret);
    const answers = await Promise.all(
      pending.flatMap((reply) =>
        Array.from({ length: 5 }, (_, i) =>
          send('POST', '/login/mfa', {
            mfa_token: reply.body.mfa_token,
            code: String((Number(right) + 7 + i) % 1_000_000).padStart(6, '0'),
          }),
        ),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 401: 100, 429: 25 });
    const last = await send('POST', '/login', user);
    expect(last.status, 'the password step goes on').to.equal(202);
    const capped = await send('POST', '/login/mfa', { mfa_token: last.body.mfa_token, code: right });
    expect([capped.status, capped.body]).to.deep.equal([429, { error: 'Too many requests' }]);
  });

  it("puts the old address back once when the notice's link is used on both workers at once", async () => {
    const owner = { email: 'revert-two@example.com', password: 'revert-two-workers' };
    const registered = await send('POST', '/users', {
      ...owner,
      user_name: 'revert_two',
      first_name: 'R',
      last_name: 'T',
    });
    const changed = await fetch(`${server.url}/users/update/${claimsOf(registered.body.JWT).sub}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${registered.body.JWT}` },
      body: JSON.stringify({ email: 'moved-two@example.net' }),
    });
    expect(changed.status).to.equal(200);
    const db = connectTo(database.url);
    try {
      const token = await tokenFromOutbox(db, owner.email, SUBJECTS.emailChanged);
      const answers = await Promise.all(Array.from({ length: 6 }, () => send('POST', '/email/revert', { token })));
      expect(tally(answers)).to.deep.equal({ 200: 1, 400: 5 });
    } finally {
      await db.destroy();
    }
    expect((await send('POST', '/login', owner)).status).to.equal(200);
  });
});
