// The claim "clients generated from the spec work", tested: openapi-fetch
// typed with generated/openapi.d.ts drives the whole flow. Every path, body
// and response below is checked by the compiler against the spec.
import { expect } from 'chai';
import createClient from 'openapi-fetch';
import type { paths } from '../../generated/openapi.js';
import { loadSpec, specAjv } from '../../src/contract/spec.js';
import { decodedText, startSmtpServer, SUBJECTS, tokenIn, waitForMails } from '../support/smtp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { awayFromStepBoundary, codeFor } from '../support/totp.js';

describe('a client generated from the spec (openapi-fetch)', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('registers, logs in, reads, updates, changes the password, lists and logs out', async () => {
    const client = createClient<paths>({ baseUrl: api.url });
    const credentials = { email: 'typed@example.com', password: 'typed-password-1' };

    const created = await client.POST('/users', {
      body: { ...credentials, user_name: 'typed', first_name: 'Typed', last_name: 'Client' },
    });
    expect(created.response.status).to.equal(201);
    expect(created.data?.JWT).to.be.a('string');

    const login = await client.POST('/login', { body: credentials });
    const token = sessionOf(login.data).access_token;
    expect(new Date(sessionOf(login.data).expires_at).getTime()).to.be.greaterThan(Date.now());
    const auth = { headers: { Authorization: `Bearer ${token}` } };

    const id = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub as string;
    const profile = await client.GET('/users/{user_id}', { params: { path: { user_id: Number(id) } }, ...auth });
    expect(profile.data).to.deep.equal({
      id: Number(id),
      email: 'typed@example.com',
      user_name: 'typed',
      first_name: 'Typed',
      last_name: 'Client',
      role: 'user',
    });

    const updated = await client.PUT('/users/update/{user_id}', {
      params: { path: { user_id: Number(id) } },
      body: { last_name: 'Generated' },
      ...auth,
    });
    expect(updated.data).to.deep.equal({ id: Number(id) });

    const changed = await client.PUT('/users/update_password/{user_id}', {
      params: { path: { user_id: Number(id) } },
      body: { existing_password: credentials.password, password: 'typed-password-2' },
      ...auth,
    });
    expect(changed.data?.message).to.equal('Password updated successfully');

    const page = await client.GET('/users/pagination', { params: { query: { page: 1, per_page: 5 } } });
    expect(page.data?.users.map((u) => u.last_name)).to.include('Generated');

    const wrong = await client.POST('/login', { body: credentials });
    expect(wrong.response.status).to.equal(401);
    expect(wrong.error).to.deep.equal({ error: 'Invalid credentials' });

    expect((await client.POST('/logout', auth)).data?.message).to.equal('Logout successful');
    const after = await client.GET('/protected', auth);
    expect(after.error).to.deep.equal({ error: 'Invalid or expired token' });
  });

  it('refreshes its access token, whose key the published set holds', async () => {
    const client = createClient<paths>({ baseUrl: api.url });
    const credentials = { email: 'refreshing@example.com', password: 'typed-password-1' };
    await client.POST('/users', { body: { ...credentials, user_name: 'refreshing', first_name: 'R', last_name: 'T' } });
    const login = await client.POST('/login', { body: credentials });

    const refreshed = await client.POST('/token/refresh', {
      body: { refresh_token: sessionOf(login.data).refresh_token },
    });
    expect(refreshed.response.status).to.equal(200);
    const { access_token, refresh_token, expires_at } = refreshed.data!;
    expect(refresh_token).not.to.equal(sessionOf(login.data).refresh_token);
    expect(new Date(expires_at).getTime()).to.be.greaterThan(Date.now());
    const checked = await client.GET('/protected', { headers: { Authorization: `Bearer ${access_token}` } });
    expect(checked.data).to.deep.equal({ message: 'Token is valid' });

    const reused = await client.POST('/token/refresh', {
      body: { refresh_token: sessionOf(login.data).refresh_token },
      headers: { 'User-Agent': 'somewhere-else' },
    });
    expect(reused.response.status).to.equal(401);
    expect(reused.error).to.deep.equal({ error: 'Invalid or expired refresh token' });

    const jwks = await client.GET('/.well-known/jwks.json');
    const kid = JSON.parse(Buffer.from(access_token.split('.')[0], 'base64url').toString()).kid as string;
    expect(jwks.data?.keys.map((key) => key.kid)).to.include(kid);
  });
});

describe('a client generated from the spec, with a second factor', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('enrols, confirms, logs out, logs in in two steps with a code, then with a recovery code', async () => {
    const client = createClient<paths>({ baseUrl: api.url });
    const credentials = { email: 'typed-mfa@example.com', password: 'typed-password-1' };
    const created = await client.POST('/users', {
      body: { ...credentials, user_name: 'typed_mfa', first_name: 'Typed', last_name: 'Factor' },
    });
    const auth = { headers: { Authorization: `Bearer ${created.data!.JWT}` } };
    await awayFromStepBoundary();
    const started = await client.POST('/account/mfa/totp', auth);
    const secret = started.data!.secret;
    const confirmed = await client.POST('/account/mfa/totp/confirm', { body: { code: codeFor(secret, -1) }, ...auth });
    const [recoveryCode] = confirmed.data!.recovery_codes;
    expect((await client.POST('/logout', auth)).response.status).to.equal(200);

    const first = await client.POST('/login', { body: credentials });
    expect(first.response.status).to.equal(202);
    const pending = first.data!;
    if (!('mfa_token' in pending)) throw new Error('expected the second-factor step');
    const done = await client.POST('/login/mfa', { body: { mfa_token: pending.mfa_token, code: codeFor(secret) } });
    const { access_token } = done.data!;
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1], 'base64url').toString());
    expect(claims.amr).to.deep.equal(['pwd', 'otp']);
    const checked = await client.GET('/protected', { headers: { Authorization: `Bearer ${access_token}` } });
    expect(checked.data).to.deep.equal({ message: 'Token is valid' });

    const again = await client.POST('/login', { body: credentials });
    if (!again.data || !('mfa_token' in again.data)) throw new Error('expected the second-factor step');
    const byRecovery = await client.POST('/login/mfa', {
      body: { mfa_token: again.data.mfa_token, recovery_code: recoveryCode },
    });
    expect(byRecovery.response.status).to.equal(200);
    const account = await client.GET('/account', {
      headers: { Authorization: `Bearer ${byRecovery.data!.access_token}` },
    });
    expect(account.data).to.include({ mfa_enabled: true, recovery_codes_left: 9 });
  });
});

describe('request schemas for a validating client', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  // A client generated with validation checks requests against the published
  // schemas before sending; they must not refuse what the server takes.
  const ajv = specAjv(loadSpec());
  const publishedNewUser = ajv.compile({ $ref: 'openapi#/components/schemas/NewUser' });

  it('accept untrimmed, mixed-case and full-width input that the server normalizes', async () => {
    const body = {
      email: ' Jane.Wide@Example.COM ',
      user_name: '\uff4a\uff41\uff4e\uff45_wide',
      first_name: ' Jane ',
      last_name: 'Wide',
      password: 'a-perfectly-fine-pass',
    };
    expect(publishedNewUser(body), ajv.errorsText(publishedNewUser.errors)).to.equal(true);
    const reply = await api.request('POST', '/users', { body });
    expect(reply.status).to.equal(201);
    const stored = await api.service.db('users').where({ email: 'jane.wide@example.com' }).first();
    expect(stored).to.include({ user_name: 'jane_wide', first_name: 'Jane' });
  });

  it('leave the server to refuse what is invalid once normalized (400 with details)', async () => {
    const body = {
      email: '  not-an-email  ',
      user_name: 'valid_name',
      first_name: 'A',
      last_name: 'B',
      password: 'a-perfectly-fine-pass',
    };
    expect(publishedNewUser(body)).to.equal(true);
    const reply = await api.request('POST', '/users', { body });
    expect(reply.status).to.equal(400);
    expect(reply.body.error).to.equal('Incorrect field');
    expect(reply.body.details.map((d: { field: string }) => d.field)).to.include('body.email');
  });
});

describe('a client generated from the spec, recovering an account', function () {
  this.timeout(30_000);
  it('asks for a reset, reads the link from the mail, resets the password and logs in', async () => {
    const smtp = await startSmtpServer();
    const api = await startTestServer({
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      MAIL_POLL_MS: '50',
      RESET_PASSWORD_URL: 'https://app.example.com/reset?token={token}',
    });
    try {
      const client = createClient<paths>({ baseUrl: api.url });
      const user = await api.register();
      const forgot = await client.POST('/password/forgot', { body: { email: user.email } });
      expect(forgot.response.status).to.equal(202);
      const [mail] = await waitForMails(smtp.received, user.email, SUBJECTS.reset);
      expect(mail.to).to.deep.equal([user.email]);
      expect(decodedText(mail)).to.include('https://app.example.com/reset?token=');
      const token = tokenIn(mail);
      const reset = await client.POST('/password/reset', { body: { token, password: 'recovered-password-1' } });
      expect(reset.data).to.deep.equal({ message: 'Password has been reset' });
      const login = await client.POST('/login', { body: { email: user.email, password: 'recovered-password-1' } });
      expect(login.response.status).to.equal(200);
      expect(sessionOf(login.data).access_token).to.be.a('string');
    } finally {
      await api.close();
      await smtp.close();
    }
  });
});

describe('a client generated from the spec, verifying an email', function () {
  this.timeout(30_000);
  it('registers, reads the link from the mail, verifies and sees it on the account', async () => {
    const smtp = await startSmtpServer();
    const api = await startTestServer({
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      MAIL_POLL_MS: '50',
      VERIFY_EMAIL_URL: 'https://app.example.com/verify?token={token}',
    });
    try {
      const client = createClient<paths>({ baseUrl: api.url });
      const email = 'typed-verify@example.com';
      const registered = await client.POST('/users', {
        body: { email, user_name: 'typed_verify', first_name: 'Ty', last_name: 'Ped', password: 'typed-client-pw-1' },
      });
      expect(registered.response.status).to.equal(201);
      const headers = { Authorization: `Bearer ${registered.data!.JWT}` };
      const before = await client.GET('/account', { headers });
      expect(before.data!.email_verified).to.equal(false);

      const [mail] = await waitForMails(smtp.received, email, SUBJECTS.verification);
      expect(decodedText(mail)).to.include('https://app.example.com/verify?token=');
      const verified = await client.POST('/email/verify', { body: { token: tokenIn(mail) } });
      expect(verified.data).to.deep.equal({ message: 'Email address verified' });
      const after = await client.GET('/account', { headers });
      expect(after.data).to.include({ email, email_verified: true });
      expect(after.data!.email_verified_at).to.be.a('string');
    } finally {
      await api.close();
      await smtp.close();
    }
  });
});

/** A login's 200 body; its 202 (a second factor owed) would fail the test here. */
function sessionOf<T extends object>(data: T | undefined): Extract<T, { access_token: string }> {
  if (!data || !('access_token' in data)) throw new Error(`expected a session, got ${JSON.stringify(data)}`);
  return data as Extract<T, { access_token: string }>;
}
