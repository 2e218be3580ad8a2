import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { runCli } from '../support/process.js';
import { ADMIN, startTestServer, TEST_SECRET } from '../support/server.js';
import { awayFromStepBoundary, codeFor } from '../support/totp.js';

/** The settings an operator's shell would have: the database and the secrets, no bootstrap admin. */
const operatorEnv = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  JWT_SECRET: TEST_SECRET,
  SIGNING_KEYS_SECRET: TEST_SECRET,
  ADMIN_EMAIL: '',
  ADMIN_PASSWORD: '',
});

describe('command line', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  const cli = (args: string[], input = '') => runCli(args, operatorEnv(database.url), input);

  it('prints its usage, and refuses unknown commands and missing options with exit code 2', () => {
    const help = cli(['help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('create-user --email EMAIL --user-name NAME');
    const unknown = cli(['frobnicate']);
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.include('Error: unknown command "frobnicate"');
    const missing = cli(['create-user', '--user-name', 'x'], 'a-long-password\n');
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.include('--email is required');
    const weak = cli(['create-user', '--email', 'weak@example.com', '--user-name', 'weak'], 'short\n');
    expect(weak.status).to.equal(2);
    expect(weak.stderr).to.include('invalid input: /password must NOT have fewer than 8 characters');
  });

  it("verifies an email on the operator's word", async () => {
    const api = await startTestServer({ DATABASE_URL: database.url });
    try {
      const user = await api.register({ email: 'unverified-cli@example.com', user_name: 'unverified_cli' });
      const verified = cli(['verify-email', '--email', 'Unverified-CLI@example.com']);
      expect(verified.status, verified.stderr).to.equal(0);
      expect(verified.stdout).to.include('The email Unverified-CLI@example.com is verified.');
      expect((await api.request('GET', '/account', { token: user.token })).body.email_verified).to.equal(true);
      const unknown = cli(['verify-email', '--email', 'nobody-cli@example.com']);
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr).to.include('no account has the email nobody-cli@example.com');
    } finally {
      await api.close();
    }
  });

  it('deletes, disables, enables and sets roles of accounts, but never the last admin', async () => {
    const own = await createTestDatabase();
    const api = await startTestServer({ DATABASE_URL: own.url }); // its only admin: ADMIN
    const run = (args: string[]) => runCli(args, operatorEnv(own.url));
    try {
      const user = await api.register({ email: 'doomed-cli@example.com', user_name: 'doomed_cli' });
      const deleted = run(['delete-user', '--email', 'Doomed-CLI@example.com']);
      expect(deleted.status, deleted.stderr).to.equal(0);
      expect(deleted.stdout).to.include('Deleted the account of Doomed-CLI@example.com.');
      expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
      expect(run(['delete-user', '--email', 'doomed-cli@example.com']).stderr).to.include(
        'no account has the email doomed-cli@example.com',
      );
      const other = await api.register({ email: 'managed-cli@example.com', user_name: 'managed_cli' });
      const disabled = run(['disable-user', '--email', other.email]);
      expect(disabled.stdout, disabled.stderr).to.include(`Disabled the account of ${other.email}.`);
      expect((await api.request('GET', '/protected', { token: other.token })).status).to.equal(401);
      const login = () => api.request('POST', '/login', { body: { email: other.email, password: other.password } });
      expect((await login()).body).to.deep.equal({ error: 'Account disabled' });
      expect(run(['enable-user', '--email', other.email]).stdout).to.include(`Enabled the account of ${other.email}.`);
      expect((await login()).status).to.equal(200);
      const promoted = run(['set-role', '--email', other.email, '--role', 'moderator']);
      expect(promoted.stdout, promoted.stderr).to.include(`${other.email} is now a moderator.`);
      expect(run(['set-role', '--email', other.email, '--role', 'boss']).status).to.equal(2);
      expect(run(['set-role', '--email', ADMIN.email, '--role', 'user']).stderr).to.include('is the last admin');
      expect(run(['disable-user', '--email', ADMIN.email]).stderr).to.include('is the last admin');
      const refused = run(['delete-user', '--email', ADMIN.email]);
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.include(`${ADMIN.email} is the last admin: make another admin first`);
    } finally {
      await api.close();
      await own.drop();
    }
  });

  it('migrates, with progress, and says when there is nothing to do', () => {
    const first = cli(['migrate']);
    expect(first.status, first.stderr).to.equal(0);
    const again = cli(['migrate']);
    expect(again.stdout).to.include('Nothing to do: migrations are up to date.');
  });

  it('creates the first admin, resets a password and revokes sessions', async () => {
    const created = cli(
      ['create-user', '--email', 'Root@Example.com', '--user-name', 'root', '--role', 'admin'],
      'root-password-1\n',
    );
    expect(created.status, created.stderr).to.equal(0);
    expect(created.stdout).to.match(/^Created admin Root@Example\.com with id \d+\.$/m);
    const duplicate = cli(['create-user', '--email', 'root@example.com', '--user-name', 'root2'], 'root-password-1\n');
    expect(duplicate.status).to.equal(1);
    expect(duplicate.stderr).to.include('that email or user name already belongs to an account');

    const api = await startTestServer({
      DATABASE_URL: database.url,
      ADMIN_EMAIL: undefined,
      ADMIN_PASSWORD: undefined,
    });
    try {
      const token = await api.login('root@example.com', 'root-password-1');
      const me = await api.request('GET', '/users/pagination');
      const root = me.body.users.find((u: { email: string }) => u.email === 'root@example.com');
      expect((await api.request('GET', `/users/${root.id}`, { token })).body.role).to.equal('admin');

      const reset = cli(['reset-password', '--email', 'root@example.com'], 'root-password-2\n');
      expect(reset.status, reset.stderr).to.equal(0);
      expect((await api.request('GET', '/protected', { token })).status).to.equal(401);
      const second = await api.login('root@example.com', 'root-password-2');

      const revoked = cli(['revoke-sessions', '--email', 'root@example.com']);
      expect(revoked.status).to.equal(0);
      expect(revoked.stdout).to.equal('Ended 1 session of root@example.com.\n');
      expect((await api.request('GET', '/protected', { token: second })).status).to.equal(401);

      // The support case: a user who lost the app and the codes.
      const third = await api.login('root@example.com', 'root-password-2');
      await awayFromStepBoundary();
      const { secret } = (await api.request('POST', '/account/mfa/totp', { token: third })).body;
      const confirm = { token: third, body: { code: codeFor(secret, -1) } };
      expect((await api.request('POST', '/account/mfa/totp/confirm', confirm)).status).to.equal(200);
      const credentials = { body: { email: 'root@example.com', password: 'root-password-2' } };
      expect((await api.request('POST', '/login', credentials)).status).to.equal(202);
      const mfaReset = cli(['reset-mfa', '--email', 'root@example.com']);
      expect(mfaReset.status, mfaReset.stderr).to.equal(0);
      expect(mfaReset.stdout).to.equal('Removed the second factor of root@example.com and ended its sessions.\n');
      expect((await api.request('GET', '/protected', { token: third })).status).to.equal(401);
      expect((await api.request('POST', '/login', credentials)).status).to.equal(200);

      const nobody = cli(['revoke-sessions', '--email', 'nobody@example.com']);
      expect(nobody.status).to.equal(1);
      expect(nobody.stderr).to.include('no account has the email nobody@example.com');
    } finally {
      await api.close();
    }
  });

  it('lists, rotates and retires the signing keys', async () => {
    const api = await startTestServer({ DATABASE_URL: database.url }); // makes the first key
    await api.close();
    const listed = cli(['keys', 'list']);
    expect(listed.status, listed.stderr).to.equal(0);
    const [, firstKid] = /^(\S+)\s+signing\s+created \S+\s+signs from \S+$/m.exec(listed.stdout) ?? [];
    expect(firstKid).to.be.a('string');

    const rotated = cli(['keys', 'rotate']);
    expect(rotated.status, rotated.stderr).to.equal(0);
    const [, nextKid, publishedSince, signsFrom] =
      /^Scheduled key (\S+): published since (\S+), signing from (\S+)\.$/m.exec(rotated.stdout)!;
    // The standby made at the first start: it signs JWKS_MAX_AGE_SECONDS (300) + 2 s after it was published.
    expect(Date.parse(signsFrom) - Date.parse(publishedSince)).to.equal(302_000);
    expect(Date.parse(publishedSince)).to.be.below(Date.now());
    expect(rotated.stdout).to.match(new RegExp(`^${nextKid}\\s+next\\s`, 'm'));
    expect(rotated.stdout.match(/\sstandby\s/g)).to.have.length(1);

    const retired = cli(['keys', 'retire', firstKid]);
    expect(retired.status, retired.stderr).to.equal(0);
    expect(retired.stdout).to.include(`Retired key ${firstKid}: every instance refuses its tokens within a second.`);
    expect(retired.stdout).to.match(new RegExp(`^${firstKid}\\s+retired\\s`, 'm'));
    // With the signing key retired and the next one not due, the next one signs at once.
    expect(retired.stdout.match(/\ssigning\s/g)).to.have.length(1);
    expect(retired.stdout).to.match(new RegExp(`^${nextKid}\\s+signing\\s`, 'm'));

    const again = cli(['keys', 'retire', firstKid]);
    expect([again.status, again.stderr.trim()]).to.deep.equal([1, `Error: no key in use has the id ${firstKid}`]);
    expect(cli(['keys', 'retire']).status).to.equal(2);
    expect(cli(['keys', 'spin']).status).to.equal(2);
    const shared = runCli(['keys', 'list'], { ...operatorEnv(database.url), JWT_ALGORITHM: 'HS256' });
    expect(shared.status).to.equal(1);
    expect(shared.stderr).to.include('JWT_ALGORITHM=HS256: tokens are signed with JWT_SECRET');
  });
});
