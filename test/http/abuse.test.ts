import { expect } from 'chai';
import { startTestServer, tally, type TestServer } from '../support/server.js';

const login = (api: TestServer, email: string, password: string, headers: Record<string, string> = {}) =>
  api.request('POST', '/login', { body: { email, password }, headers });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describe('password guessing limits', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ LOGIN_MAX_FAILURES_PER_ADDRESS: '0' });
  });
  after(() => api.close());

  it('answers 429 with Retry-After after 5 failures for an email, even to the right password', async () => {
    const { email, password } = await api.register();
    for (let i = 0; i < 5; i += 1) expect((await login(api, email, 'wrong-guess')).status).to.equal(401);
    for (let i = 0; i < 25; i += 1) {
      const reply = await login(api, email, i === 24 ? password : `guess-${i}`);
      expect(reply.status).to.equal(429);
      expect(reply.body).to.deep.equal({ error: 'Too many requests' });
      expect(Number(reply.headers.get('retry-after'))).to.be.within(1, 900);
    }
  });

  it('limits an unknown email exactly like a known one, so the limit reveals nothing', async () => {
    for (let i = 0; i < 5; i += 1) expect((await login(api, 'nobody-at-all@example.com', 'x')).status).to.equal(401);
    expect((await login(api, 'NOBODY-at-all@example.com', 'x')).status).to.equal(429);
  });

  it('does not count 400s, and a success clears the count', async () => {
    const { email, password } = await api.register();
    for (let i = 0; i < 10; i += 1) {
      expect((await api.request('POST', '/login', { body: { email, password: '' } })).status).to.equal(400);
    }
    for (let i = 0; i < 4; i += 1) expect((await login(api, email, 'wrong-guess')).status).to.equal(401);
    expect((await login(api, email, password)).status).to.equal(200);
    for (let i = 0; i < 4; i += 1) expect((await login(api, email, 'wrong-guess')).status).to.equal(401);
    expect((await login(api, email, password)).status).to.equal(200);
  });

  it('keeps the other accounts open', async () => {
    const victim = await api.register();
    const bystander = await api.register();
    for (let i = 0; i < 6; i += 1) await login(api, victim.email, 'wrong-guess');
    expect((await login(api, bystander.email, bystander.password)).status).to.equal(200);
  });
});

describe('limits per client address', () => {
  it('counts failures per address, across emails, by the socket address unless TRUST_PROXY says otherwise', async () => {
    const api = await startTestServer({ LOGIN_MAX_FAILURES_PER_ADDRESS: '3', LOGIN_MAX_FAILURES_PER_EMAIL: '0' });
    try {
      for (let i = 0; i < 3; i += 1) {
        // A forged X-Forwarded-For changes nothing when no proxy is trusted.
        const reply = await login(api, `spray${i}@example.com`, 'x', { 'x-forwarded-for': `203.0.113.${i}` });
        expect(reply.status).to.equal(401);
      }
      expect((await login(api, 'spray9@example.com', 'x', { 'x-forwarded-for': '203.0.113.77' })).status).to.equal(429);
    } finally {
      await api.close();
    }
  });

  it('with TRUST_PROXY=1, takes the address the proxy reports', async () => {
    const api = await startTestServer({
      TRUST_PROXY: '1',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '2',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
    });
    try {
      const from = (address: string) => ({ 'x-forwarded-for': address });
      for (let i = 0; i < 2; i += 1)
        expect((await login(api, 'a@example.com', 'x', from('203.0.113.1'))).status).to.equal(401);
      expect((await login(api, 'a@example.com', 'x', from('203.0.113.1'))).status).to.equal(429);
      expect((await login(api, 'a@example.com', 'x', from('203.0.113.2'))).status).to.equal(401);
    } finally {
      await api.close();
    }
  });

  it('limits registrations per address per hour', async () => {
    const api = await startTestServer({ REGISTRATIONS_PER_ADDRESS: '2' });
    try {
      await api.register();
      await api.register();
      const third = await api.request('POST', '/users', {
        body: {
          email: 'third@example.com',
          user_name: 'third',
          first_name: 'T',
          last_name: 'R',
          password: 'long-enough-pw',
        },
      });
      expect(third.status).to.equal(429);
      expect(third.body).to.deep.equal({ error: 'Too many requests' });
      expect(Number(third.headers.get('retry-after'))).to.be.within(1, 3600);
      expect(await api.service.db('users').where({ email: 'third@example.com' }).first()).to.equal(undefined);
    } finally {
      await api.close();
    }
  });

  it('lets a client try again once the window has passed', async () => {
    const api = await startTestServer({ LOGIN_MAX_FAILURES_PER_EMAIL: '1', LOGIN_FAILURE_WINDOW_SECONDS: '1' });
    try {
      expect((await login(api, 'w@example.com', 'x')).status).to.equal(401);
      const limited = await login(api, 'w@example.com', 'x');
      expect(limited.status).to.equal(429);
      expect(limited.headers.get('retry-after')).to.equal('1');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await login(api, 'w@example.com', 'x')).status).to.equal(401);
    } finally {
      await api.close();
    }
  });
});

describe('the login ceiling per client address', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '6', TRUST_PROXY: '1' });
  });
  after(() => api.close());
  const from = (address: string) => ({ 'x-forwarded-for': address });

  it('counts successful logins too, so a client logging in to its own accounts meets it', async () => {
    const accounts = await Promise.all([1, 2, 3].map(() => api.register()));
    const replies = await Promise.all(
      accounts.flatMap((account) =>
        [1, 2, 3].map(() => login(api, account.email, account.password, from('198.51.100.7'))),
      ),
    );
    expect(tally(replies)).to.deep.equal({ 200: 6, 429: 3 });
    const refused = replies.find((reply) => reply.status === 429)!;
    expect(refused.body).to.deep.equal({ error: 'Too many requests' });
    const [first] = accounts;
    expect((await login(api, first.email, first.password, from('198.51.100.8'))).status).to.equal(200);
  });

  it('groups IPv6 addresses by /64', async () => {
    const { email, password } = await api.register();
    const inOneNetwork = Array.from({ length: 7 }, (_, i) =>
      login(api, email, password, from(`2001:db8:5:6::${i + 1}`)),
    );
    expect(tally(await Promise.all(inOneNetwork))).to.deep.equal({ 200: 6, 429: 1 });
    expect((await login(api, email, password, from('2001:db8:5:7::1'))).status).to.equal(200);
  });
});

describe('login timing', () => {
  it('costs an unknown email what a wrong password costs, for a password not in NFKC too (medians within 1.5x)', async function () {
    this.timeout(120_000);
    const api = await startTestServer({
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
    });
    try {
      const { email } = await api.register();
      // Full-width letters: NFKC changes this password, so a check of it may
      // also try the form as typed. The attacker chooses the password; an
      // unknown email must cost as many hashes as a known one.
      const guess = 'wrong-\uff50\uff41\uff53\uff53word';
      expect(guess.normalize('NFKC')).to.not.equal(guess);
      const time = async (who: string) => {
        const started = process.hrtime.bigint();
        expect((await login(api, who, guess)).status).to.equal(401);
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      // Interleaved, so load on the machine falls on both alike; one extra
      // hash on either side makes the ratio about 2 (or 0.5).
      for (let i = 0; i < 25; i += 1) {
        known.push(await time(email));
        unknown.push(await time(`ghost${i}@example.com`));
      }
      const ratio = median(unknown) / median(known);
      expect(ratio, `unknown ${median(unknown).toFixed(1)} ms, known ${median(known).toFixed(1)} ms`).to.be.within(
        1 / 1.5,
        1.5,
      );
    } finally {
      await api.close();
    }
  });
});

describe('audit trail', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ LOGIN_MAX_FAILURES_PER_EMAIL: '2' });
  });
  after(() => api.close());

  const eventsOf = (userId: number) =>
    api.service
      .db('security_events')
      .where({ user_id: userId })
      .orderBy('id')
      .select('type', 'address', 'request_id', 'actor_id');

  it('records registration, logins, lockout, logout and password change with address and request id', async () => {
    const reply = await api.request('POST', '/users', {
      body: {
        email: 'audited@example.com',
        user_name: 'audited',
        first_name: 'A',
        last_name: 'U',
        password: 'first-password',
      },
      headers: { 'x-request-id': 'req-register-1' },
    });
    expect(reply.headers.get('x-request-id')).to.equal('req-register-1');
    const token = reply.body.JWT;
    const id = Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub);
    await login(api, 'audited@example.com', 'first-password');
    await login(api, 'audited@example.com', 'wrong');
    await api.request('PUT', `/users/update_password/${id}`, {
      body: { existing_password: 'first-password', password: 'second-password' },
      token,
    });
    await login(api, 'audited@example.com', 'wrong'); // the second failure in the window: lockout
    expect((await login(api, 'audited@example.com', 'wrong')).status).to.equal(429); // not recorded as a failure
    await api.request('POST', '/logout', { token });

    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).to.deep.equal([
      'registration',
      'email_verification_sent',
      'login_success',
      'login_failure',
      'password_change',
      'login_failure',
      'lockout',
      'logout',
    ]);
    expect(events[0]!.request_id).to.equal('req-register-1');
    for (const event of events) {
      expect(event.address).to.match(/127\.0\.0\.1$/);
      expect(event.request_id).to.be.a('string').with.length.greaterThan(0);
    }
  });

  it('records who created a privileged account', async () => {
    const adminToken = await api.login('admin@example.com', 'admin-password-123');
    const moderator = await api.register({ role: 'moderator' }, adminToken);
    const [event] = await eventsOf(moderator.id);
    expect(event).to.include({ type: 'privileged_account_created', actor_id: 1 });
  });

  it('writes nothing when the change it records is rolled back', async () => {
    await api.service.db.schema.renameTable('sessions', 'sessions_away');
    try {
      const reply = await api.request('POST', '/users', {
        body: {
          email: 'rolled@example.com',
          user_name: 'rolled',
          first_name: 'R',
          last_name: 'B',
          password: 'long-enough-pw',
        },
        headers: { 'x-request-id': 'req-rolled-back' },
      });
      expect(reply.status).to.equal(500);
    } finally {
      await api.service.db.schema.renameTable('sessions_away', 'sessions');
    }
    expect(await api.service.db('security_events').where({ request_id: 'req-rolled-back' })).to.deep.equal([]);
  });

  it('makes up a request id when the one sent is unusable', async () => {
    const reply = await api.request('GET', '/users/pagination', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(reply.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });
});
