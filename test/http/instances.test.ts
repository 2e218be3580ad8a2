// Several processes on one database: on SQLite, one instance with two
// node:cluster workers sharing the file; on PostgreSQL, two instances started
// at the same moment (they race for the migrations and the bootstrap admin),
// one of them with two workers. Every burst here is sent all at once.
import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import type { Knex } from 'knex';
import { backend, connectTo, createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { ADMIN, TEST_SECRET, tally } from '../support/server.js';
import { runCli } from '../support/process.js';
import { mailsTo, startSmtpServer, subjectOf, SUBJECTS, tokenIn, waitForMails } from '../support/smtp.js';

interface Answer {
  status: number;
  body: any;
}

/** One request on a connection of its own, so the cluster's round-robin spreads them over workers. */
function send(
  baseUrl: string,
  method: string,
  path: string,
  { body, token, address, userAgent }: { body?: unknown; token?: string; address?: string; userAgent?: string } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(`${baseUrl}${path}`, {
      method,
      agent: false,
      headers: {
        ...(payload ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        // Each limit test has an address of its own (TRUST_PROXY=1 below).
        ...(address ? { 'x-forwarded-for': address } : {}),
        ...(userAgent ? { 'user-agent': userAgent } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The processes of the header: the servers to stop, and two targets to spread requests over. */
async function startInstances(env: Record<string, string>) {
  if (backend === 'sqlite') {
    const server = await startServerProcess({ ...env, WEB_CONCURRENCY: '2' });
    return { servers: [server], targets: [server.url, server.url] };
  }
  const servers = await Promise.all([startServerProcess({ ...env, WEB_CONCURRENCY: '2' }), startServerProcess(env)]);
  return { servers, targets: servers.map((s) => s.url) };
}

describe(`several processes on one ${backend} database`, function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let servers: ServerProcess[] = [];
  let targets: string[];
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let cliEnv: Record<string, string>;

  before(async () => {
    database = await createTestDatabase();
    smtp = await startSmtpServer();
    const env = {
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      MAIL_POLL_MS: '50',
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_SECRET,
      SIGNING_KEYS_SECRET: TEST_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      TRUST_PROXY: '1',
      REGISTRATIONS_PER_ADDRESS: '12',
      LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '40',
      JWKS_MAX_AGE_SECONDS: '1', // a rotated key signs 3 s after it is added
    };
    cliEnv = { DATABASE_URL: database.url, SIGNING_KEYS_SECRET: TEST_SECRET, JWKS_MAX_AGE_SECONDS: '1' };
    ({ servers, targets } = await startInstances(env));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await smtp?.close();
    await database?.drop();
  });

  it('created the bootstrap admin once', async () => {
    const listing = await send(targets[0], 'GET', '/users/pagination?per_page=100');
    const admins = listing.body.users.filter((u: { email: string }) => u.email === ADMIN.email);
    expect(admins).to.have.length(1);
  });

  it('made one signing key and one standby, though the instances started at the same moment', async () => {
    const kids = await Promise.all(
      targets.map(async (target) =>
        ((await send(target, 'GET', '/.well-known/jwks.json')).body.keys as { kid: string }[]).map((key) => key.kid),
      ),
    );
    expect(kids[0]).to.have.length(2);
    for (const published of kids) expect(published).to.deep.equal(kids[0]);
  });

  it('refuses a token everywhere as soon as it is logged out anywhere', async () => {
    const user = {
      email: 'everywhere@example.com',
      user_name: 'everywhere',
      first_name: 'E',
      last_name: 'W',
      password: 'long-enough-pw',
    };
    const { body } = await send(targets[0], 'POST', '/users', { body: user });
    const token = body.JWT as string;
    for (const target of targets) expect((await send(target, 'GET', '/protected', { token })).status).to.equal(200);

    expect((await send(targets[0], 'POST', '/logout', { token })).status).to.equal(200);
    // All at once, so each process reads many sessions together (on PostgreSQL, one pipelined write).
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => send(targets[i % targets.length], 'GET', '/protected', { token })),
    );
    for (const answer of answers) {
      expect(answer.status).to.equal(401);
      expect(answer.body).to.deep.equal({ error: 'Invalid or expired token' });
    }
  });

  it('lets exactly one of simultaneous registrations of one email win, across processes', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/users', {
          body: {
            email: 'Same@Example.com',
            user_name: `same_${i}`,
            first_name: 'S',
            last_name: 'E',
            password: 'long-enough-pw',
          },
          address: '198.51.100.34',
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).to.deep.equal([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    for (const answer of answers.filter((a) => a.status === 409)) {
      expect(answer.body).to.deep.equal({
        error: 'Invalid request body',
        details: [{ field: 'body.email', message: 'belongs to another account' }],
      });
    }
  });

  it('has no more than 5 passwords checked in a burst of guesses spread over the processes', async () => {
    const user = {
      email: 'guessed@example.com',
      user_name: 'guessed',
      first_name: 'G',
      last_name: 'D',
      password: 'long-enough-pw',
    };
    expect((await send(targets[0], 'POST', '/users', { body: user, address: '198.51.100.30' })).status).to.equal(201);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/login', {
          body: { email: user.email, password: i === 29 ? user.password : `guess-${i}` },
          address: '198.51.100.31',
        }),
      ),
    );
    const counts = tally(answers);
    expect((counts[401] ?? 0) + (counts[200] ?? 0)).to.equal(5);
    expect(counts[429]).to.equal(25);
  });

  it('holds the login ceiling per address over the processes, successful logins counted too', async () => {
    // Ten accounts, five logins each: within the strict limit of each email from this address.
    const users = Array.from({ length: 10 }, (_, n) => `ceiling.${n}`).map((name) => ({
      email: `${name}@example.com`,
      user_name: name.replace('.', '_'),
      first_name: 'C',
      last_name: 'L',
      password: 'long-enough-pw',
    }));
    for (const user of users) {
      expect((await send(targets[0], 'POST', '/users', { body: user, address: '198.51.100.40' })).status).to.equal(201);
    }
    // Right passwords: a success gives back its places in the failure limits, never in the ceiling.
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/login', {
          body: { email: users[i % 10].email, password: users[i % 10].password },
          address: '198.51.100.41',
        }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 200: 40, 429: 10 });
  });

  it('creates no more accounts than the registration limit in a burst spread over the processes', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/users', {
          body: {
            email: `spread${i}@example.com`,
            user_name: `spread_${i}`,
            first_name: 'S',
            last_name: 'P',
            password: 'long-enough-pw',
          },
          address: '198.51.100.32',
        }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 201: 12, 429: 18 });
  });

  it('leaves no session opened with the old password once a password change answered in another process', async () => {
    const user = {
      email: 'changing@example.com',
      user_name: 'changing',
      first_name: 'C',
      last_name: 'H',
      password: 'long-enough-pw',
    };
    const { body } = await send(targets[0], 'POST', '/users', { body: user, address: '198.51.100.33' });
    const change = send(
      targets[0],
      'PUT',
      `/users/update_password/${Number(JSON.parse(Buffer.from(body.JWT.split('.')[1], 'base64url').toString()).sub)}`,
      {
        token: body.JWT,
        body: { existing_password: user.password, password: 'the-new-password' },
      },
    );
    const logins = Array.from({ length: 20 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 6)).then(() =>
        send(targets[(i + 1) % targets.length], 'POST', '/login', {
          body: { email: user.email, password: user.password },
          address: `198.51.100.${40 + (i % 4)}`,
        }),
      ),
    );
    const [changed, ...answers] = await Promise.all([change, ...logins]);
    expect(changed.status).to.equal(200);
    for (const answer of answers.filter((a) => a.status === 200)) {
      expect((await send(targets[0], 'GET', '/protected', { token: answer.body.access_token })).status).to.equal(401);
    }
  });

  const registerOn = async (target: string, tag: string) => {
    const user = {
      email: `${tag}@example.com`,
      user_name: tag,
      first_name: 'M',
      last_name: 'P',
      password: 'long-enough-pw',
    };
    const { body } = await send(target, 'POST', '/users', { body: user, address: `198.51.100.${tag.length}` });
    const id = Number(JSON.parse(Buffer.from(body.JWT.split('.')[1], 'base64url').toString()).sub);
    return { ...user, id, token: body.JWT as string };
  };
  const resetMailsTo = (email: string) => mailsTo(smtp.received, email, SUBJECTS.reset);
  const waitForResetMails = async (email: string, count: number) => {
    await waitForMails(smtp.received, email, SUBJECTS.reset, count);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive now
  };

  it('limits wrong existing passwords per account across the processes', async () => {
    const user = await registerOn(targets[0], 'wrongexisting');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        send(targets[i % targets.length], 'PUT', `/users/update_password/${user.id}`, {
          token: user.token,
          body: { existing_password: `not-it-${i}`, password: 'another-password' },
        }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 400: 5, 429: 7 });
  });

  it('limits reset requests per email across the processes, and mails each granted one exactly once', async () => {
    const user = await registerOn(targets[0], 'resetlimit');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/password/forgot', {
          body: { email: user.email },
          address: `203.0.113.${60 + i}`,
        }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 202: 3, 429: 5 });
    await waitForResetMails(user.email, 3);
    expect(resetMailsTo(user.email)).to.have.length(3);
  });

  it('lets a reset link work once when two processes get it at the same moment', async () => {
    const user = await registerOn(targets[0], 'resetonce');
    expect((await send(targets[1], 'POST', '/password/forgot', { body: { email: user.email } })).status).to.equal(202);
    await waitForResetMails(user.email, 1);
    const token = tokenIn(resetMailsTo(user.email)[0]);
    const answers = await Promise.all(
      ['first-racing-password', 'second-racing-password'].map((password, i) =>
        send(targets[i % targets.length], 'POST', '/password/reset', { body: { token, password } }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 200: 1, 400: 1 });
    expect(answers.find((a) => a.status === 400)!.body).to.deep.equal({ error: 'Invalid or expired reset token' });
    // Every session of the account ended, in every process.
    for (const target of targets)
      expect((await send(target, 'GET', '/protected', { token: user.token })).status).to.equal(401);
  });

  it('closes an account once across the processes, and leaves no working token from logins racing it', async () => {
    const user = await registerOn(targets[0], 'closeracer');
    const close = (target: string) =>
      send(target, 'POST', '/account/delete', { token: user.token, body: { password: user.password } });
    const login = (target: string) =>
      send(target, 'POST', '/login', { body: { email: user.email, password: user.password } });
    const [first, second, ...logins] = await Promise.all([
      close(targets[0]),
      close(targets[1]),
      ...Array.from({ length: 4 }, (_, i) => login(targets[i % targets.length])), // the strict login limit is 5
    ]);
    expect(tally([first, second])).to.deep.equal({ 200: 1, 401: 1 });
    for (const answer of logins) expect([200, 401]).to.include(answer.status);
    for (const answer of logins.filter((a) => a.status === 200)) {
      for (const target of targets) {
        const check = await send(target, 'GET', '/protected', { token: answer.body.access_token });
        expect(check.status).to.equal(401);
      }
    }
    expect((await login(targets[1])).status).to.equal(401);
  });

  it('leaves one admin when admins in different processes demote each other at the same moment', async () => {
    const { access_token: adminToken } = (
      await send(targets[0], 'POST', '/login', { body: { email: ADMIN.email, password: ADMIN.password } })
    ).body as { access_token: string };
    const second = await send(targets[0], 'POST', '/users', {
      token: adminToken,
      address: '198.51.100.200',
      body: {
        email: 'second-admin@example.com',
        user_name: 'second_admin',
        first_name: 'S',
        last_name: 'A',
        password: 'long-enough-pw',
        role: 'admin',
      },
    });
    const secondToken = second.body.JWT as string;
    const idOf = (token: string) => Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub);
    const answers = await Promise.all([
      send(targets[0], 'PUT', `/admin/users/${idOf(secondToken)}/role`, { token: adminToken, body: { role: 'user' } }),
      send(targets[1], 'PUT', `/admin/users/${idOf(adminToken)}/role`, { token: secondToken, body: { role: 'user' } }),
    ]);
    expect(answers.map((a) => a.status).sort()).to.satisfy(
      (statuses: number[]) => statuses[0] === 200 && [403, 409].includes(statuses[1]),
    );
    const survivor = answers[0].status === 200 ? adminToken : secondToken;
    // The survivor is the only admin: demoting itself is refused, in either process.
    for (const target of targets) {
      const self = await send(target, 'PUT', `/admin/users/${idOf(survivor)}/role`, {
        token: survivor,
        body: { role: 'user' },
      });
      expect(self.status).to.equal(409);
    }
    if (survivor !== adminToken) {
      await send(targets[0], 'PUT', `/admin/users/${idOf(adminToken)}/role`, {
        token: survivor,
        body: { role: 'admin' },
      });
    }
  });

  it('disables an account in one process while logins run in the other: no working token comes out', async () => {
    const { access_token: adminToken } = (
      await send(targets[0], 'POST', '/login', { body: { email: ADMIN.email, password: ADMIN.password } })
    ).body as { access_token: string };
    const user = await registerOn(targets[0], 'disablerace');
    const id = Number(JSON.parse(Buffer.from(user.token.split('.')[1], 'base64url').toString()).sub);
    const login = (target: string) =>
      send(target, 'POST', '/login', { body: { email: user.email, password: user.password } });
    const [disabled, ...logins] = await Promise.all([
      send(targets[0], 'POST', `/admin/users/${id}/disable`, { token: adminToken }),
      ...Array.from({ length: 4 }, () => login(targets[1])),
    ]);
    expect(disabled.status).to.equal(200);
    for (const answer of logins) expect([200, 401, 403]).to.include(answer.status);
    for (const answer of logins.filter((a) => a.status === 200)) {
      for (const target of targets) {
        expect((await send(target, 'GET', '/protected', { token: answer.body.access_token })).status).to.equal(401);
      }
    }
    for (const target of targets) {
      expect((await send(target, 'GET', '/protected', { token: user.token })).status).to.equal(401);
      expect((await login(target)).body).to.deep.equal({ error: 'Account disabled' });
    }
  });

  it('limits wrong passwords when closing an account, and ends a session once, across the processes', async () => {
    const user = await registerOn(targets[0], 'closelimit');
    const wrongs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/account/delete', {
          token: user.token,
          body: { password: `wrong-${i}-password` },
        }),
      ),
    );
    expect(tally(wrongs)).to.deep.equal({ 400: 5, 429: 3 });
    const { access_token: second } = (
      await send(targets[1], 'POST', '/login', { body: { email: user.email, password: user.password } })
    ).body as { access_token: string };
    const jti = String(JSON.parse(Buffer.from(second.split('.')[1], 'base64url').toString()).jti);
    const ends = await Promise.all(
      targets.map((target) => send(target, 'DELETE', `/sessions/${jti}`, { token: user.token })),
    );
    expect(tally(ends)).to.deep.equal({ 200: 1, 404: 1 });
  });

  it('caps the mail of email changes fired at both processes at once', async () => {
    const user = await registerOn(targets[0], 'hopper');
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(targets[i % targets.length], 'PUT', `/users/update/${user.id}`, {
          token: user.token,
          body: { email: `hop${i}@example.com` },
        }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 200: 6 });
    // Three changes took the hour's share of mail: a link and a notice each; the rest sent nothing.
    const hop = /^hop\d@example\.com$/;
    const links = () =>
      smtp.received.filter((mail) => subjectOf(mail) === SUBJECTS.verification && mail.to.some((to) => hop.test(to)));
    const notices = () =>
      smtp.received.filter(
        (mail) => subjectOf(mail) === SUBJECTS.emailChanged && mail.to.some((to) => hop.test(to) || to === user.email),
      );
    for (let waited = 0; links().length + notices().length < 6; waited += 25) {
      if (waited > 15_000) throw new Error("the changes' mail did not arrive");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // more would arrive now
    expect(links()).to.have.length(3);
    expect(notices()).to.have.length(3);
  });

  it('lets a verification link work once when two processes get it at the same moment', async () => {
    const user = await registerOn(targets[0], 'verifyonce');
    const [mail] = await waitForMails(smtp.received, user.email, SUBJECTS.verification);
    const token = tokenIn(mail);
    const answers = await Promise.all(
      targets.map((target) => send(target, 'POST', '/email/verify', { body: { token } })),
    );
    expect(tally(answers)).to.deep.equal({ 200: 1, 400: 1 });
    expect(answers.find((a) => a.status === 400)!.body).to.deep.equal({
      error: 'Invalid or expired verification token',
    });
  });

  it('limits verification links per account across the processes, and mails each exactly once', async () => {
    const user = await registerOn(targets[0], 'resendlimit');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(targets[i % targets.length], 'POST', '/email/resend', { token: user.token }),
      ),
    );
    expect(tally(answers)).to.deep.equal({ 202: 3, 429: 5 });
    await waitForMails(smtp.received, user.email, SUBJECTS.verification, 4); // the registration's, and three
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive now
    expect(mailsTo(smtp.received, user.email, SUBJECTS.verification)).to.have.length(4);
  });

  /** A new account's login answer from one process, its client named by `userAgent`. */
  async function signIn(tag: string, userAgent: string) {
    const user = {
      email: `${tag}@example.com`,
      user_name: tag,
      first_name: 'R',
      last_name: 'T',
      password: 'long-enough-pw',
    };
    expect((await send(targets[0], 'POST', '/users', { body: user, address: '198.51.100.60' })).status).to.equal(201);
    const credentials = { email: user.email, password: user.password };
    const login = await send(targets[1], 'POST', '/login', { body: credentials, userAgent, address: '198.51.100.61' });
    return login.body as { access_token: string; refresh_token: string };
  }
  const refreshOn = (target: string, refreshToken: string, userAgent: string) =>
    send(target, 'POST', '/token/refresh', {
      body: { refresh_token: refreshToken },
      userAgent,
      address: '198.51.100.61',
    });

  it('gives one refresh token one new pair across processes, and keeps the session for one client only', async () => {
    const same = await signIn('refresh_same', 'app/1.0');
    const sameClient = await Promise.all(
      Array.from({ length: 10 }, (_, i) => refreshOn(targets[i % targets.length], same.refresh_token, 'app/1.0')),
    );
    expect(tally(sameClient)).to.deep.equal({ 200: 1, 409: 9 });
    const kept = sameClient.find((answer) => answer.status === 200)!.body;
    for (const target of targets) {
      expect((await send(target, 'GET', '/protected', { token: kept.access_token })).status).to.equal(200);
    }

    const stolen = await signIn('refresh_stolen', 'app/1.0');
    const manyClients = await Promise.all(
      Array.from({ length: 10 }, (_, i) => refreshOn(targets[i % targets.length], stolen.refresh_token, `client/${i}`)),
    );
    expect(tally(manyClients)).to.deep.equal({ 200: 1, 401: 9 });
    const lost = manyClients.find((answer) => answer.status === 200)!.body;
    for (const target of targets) {
      expect((await send(target, 'GET', '/protected', { token: lost.access_token })).status).to.equal(401);
      expect((await refreshOn(target, lost.refresh_token, 'client/0')).status).to.equal(401);
    }
  });

  it('reaches every process with a key rotated and retired by the CLI, without a restart', async () => {
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid as string;
    const everyProcess = async (check: (target: string) => Promise<boolean>) => {
      // Six answers per target: with two workers behind one port, both are asked.
      for (const target of targets) for (let i = 0; i < 6; i += 1) if (!(await check(target))) return false;
      return true;
    };
    const eventually = async (check: (target: string) => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (!(await everyProcess(check))) {
        if (Date.now() > deadline) throw new Error('not every process got there within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const published = async (target: string) =>
      ((await send(target, 'GET', '/.well-known/jwks.json')).body.keys as { kid: string }[]).map((key) => key.kid);

    const before = await signIn('rotation', 'app/1.0');
    const oldKid = kidOf(before.access_token);
    const rotated = runCli(['keys', 'rotate'], cliEnv);
    expect(rotated.status, rotated.stderr).to.equal(0);
    const [, newKid, , signsFrom] = /^Scheduled key (\S+): published since (\S+), signing from (\S+)\.$/m.exec(
      rotated.stdout,
    )!;
    // The standby made at start-up signs once every cached JWKS holds it: maybe already.
    expect(rotated.stdout).to.match(new RegExp(`^${oldKid}\\s+(signing|verifying)\\s`, 'm'));
    await eventually(async (target) => (await published(target)).includes(newKid));

    await new Promise((resolve) => setTimeout(resolve, Date.parse(signsFrom) - Date.now() + 50));
    const body = { email: 'rotation@example.com', password: 'long-enough-pw' };
    await eventually(async (target) => {
      const login = await send(target, 'POST', '/login', { body, address: '198.51.100.62' });
      return kidOf(login.body.access_token) === newKid;
    });
    expect(await everyProcess(async (target) => (await published(target)).includes(oldKid))).to.equal(true);

    const retired = runCli(['keys', 'retire', oldKid], cliEnv);
    expect(retired.status, retired.stderr).to.equal(0);
    await eventually(
      async (target) => (await send(target, 'GET', '/protected', { token: before.access_token })).status === 401,
    );
    expect(await everyProcess(async (target) => !(await published(target)).includes(oldKid))).to.equal(true);
    const renewed = await refreshOn(targets[0], before.refresh_token, 'app/1.0');
    expect(kidOf(renewed.body.access_token)).to.equal(newKid);
  });
});

describe(`the cap of mail per recipient over several processes on one ${backend} database`, function () {
  this.timeout(60_000);
  const CAP = 6;
  const BURST = 16;
  let database: TestDatabase;
  let db: Knex;
  let servers: ServerProcess[] = [];
  let targets: string[];

  before(async () => {
    database = await createTestDatabase();
    // No SMTP_URL: the mail stays in the outbox, where it is counted.
    ({ servers, targets } = await startInstances({
      DATABASE_URL: database.url,
      SIGNING_KEYS_SECRET: TEST_SECRET,
      TRUST_PROXY: '1',
      MAIL_PER_RECIPIENT: String(CAP),
      // Above what is asked here: every 429 and every reset link left unsent is the cap's doing.
      EMAIL_VERIFICATION_REQUESTS_PER_USER: String(BURST + 2),
      PASSWORD_RESET_REQUESTS_PER_EMAIL: String(BURST + 2),
    }));
    db = connectTo(database.url);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.destroy();
    await database?.drop();
  });

  const subjectsTo = (recipient: string) =>
    db('mail_outbox').where({ recipient }).orderBy('id').pluck<string[]>('subject');
  /** The subjects queued to `recipient` once there are `count` at least (a reset link is queued after its answer). */
  const queuedTo = async (recipient: string, count: number) => {
    for (let waited = 0; ; waited += 25) {
      const subjects = await subjectsTo(recipient);
      if (subjects.length >= count) return subjects;
      if (waited > 10_000) throw new Error(`${subjects.length} of ${count} messages to ${recipient} queued`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it('queues no more than the cap to one address from two accounts and from links and resets fired at once', async () => {
    const victim = 'capped@example.com';
    const register = async (user_name: string, address: string) => {
      const body = { email: victim, user_name, first_name: 'C', last_name: 'P', password: 'long-enough-pw' };
      const answer = await send(targets[0], 'POST', '/users', { body, address });
      expect(answer.status).to.equal(201);
      const token = answer.body.JWT as string;
      return { token, id: Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub) };
    };
    // Four places go one at a time: the first account's link, the notice when it moves
    // to another address, and a second account's link on registration and reset link.
    const first = await register('capped_first', '198.51.100.70');
    const moved = await send(targets[1], 'PUT', `/users/update/${first.id}`, {
      token: first.token,
      body: { email: 'moved-away@example.com' },
    });
    expect(moved.status).to.equal(200);
    const second = await register('capped_second', '198.51.100.71');
    const forgot = (i: number) =>
      send(targets[i % targets.length], 'POST', '/password/forgot', {
        body: { email: victim },
        address: `203.0.113.${100 + i}`,
      });
    expect((await forgot(BURST)).status).to.equal(202);
    expect(await queuedTo(victim, 4)).to.deep.equal([
      SUBJECTS.verification,
      SUBJECTS.emailChanged,
      SUBJECTS.verification,
      SUBJECTS.reset,
    ]);

    // 32 more asked for at once, spread over the processes, for the two places left.
    const answers = await Promise.all([
      ...Array.from({ length: BURST }, (_, i) =>
        send(targets[(i + 1) % targets.length], 'POST', '/email/resend', { token: second.token }),
      ),
      ...Array.from({ length: BURST }, (_, i) => forgot(i)),
    ]);
    // A reset request answers 202 whether or not a link goes; a resend 202 or, past the cap, 429.
    expect(tally(answers.slice(BURST))).to.deep.equal({ 202: BURST });
    const resends = answers.slice(0, BURST);
    for (const refused of resends.filter((a) => a.status !== 202)) {
      expect(refused).to.deep.equal({ status: 429, body: { error: 'Too many requests' } });
    }
    const resent = resends.filter((a) => a.status === 202).length;

    await queuedTo(victim, CAP);
    await new Promise((resolve) => setTimeout(resolve, 500)); // reset links past the cap would be queued by now

    const subjects = await subjectsTo(victim);
    expect(subjects).to.have.length(CAP);
    const counts: Record<string, number> = {};
    for (const subject of subjects) counts[subject] = (counts[subject] ?? 0) + 1;
    expect(counts).to.deep.equal({
      [SUBJECTS.verification]: 2 + resent,
      [SUBJECTS.emailChanged]: 1,
      [SUBJECTS.reset]: CAP - 3 - resent,
    });
    // The cap is what refuses now: the account's own limit has places left.
    expect(await send(targets[1], 'POST', '/email/resend', { token: second.token })).to.deep.equal({
      status: 429,
      body: { error: 'Too many requests' },
    });
  });
});
