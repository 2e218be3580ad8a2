// The limits and credential changes under an attacker who sends everything at
// once: every burst here is fired in parallel, and the assertions count what
// got through, not what a sequential client would see.
import { expect } from 'chai';
import { startTestServer, tally, type Reply, type TestServer } from '../support/server.js';

const from = (address: string) => ({ 'x-forwarded-for': address });

function expectRefusedWithRetryAfter(replies: Reply[], status: number, error: string, maxSeconds: number) {
  for (const reply of replies.filter((r) => r.status === status)) {
    expect(reply.body).to.deep.equal({ error });
    expect(Number(reply.headers.get('retry-after'))).to.be.within(1, maxSeconds);
  }
}

describe('a burst of guesses at one account', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ TRUST_PROXY: '1' });
  });
  after(() => api.close());

  it('has no more than 5 passwords checked, the right one included, and the rest refused with 429', async () => {
    const { email, password } = await api.register();
    const guesses = Array.from({ length: 30 }, (_, i) => (i === 29 ? password : `guess-number-${i}`));
    const replies = await Promise.all(
      guesses.map((guess) =>
        api.request('POST', '/login', { body: { email, password: guess }, headers: from('198.51.100.1') }),
      ),
    );
    const counts = tally(replies);
    // Every password check answers 200 or 401; all else is refused before it.
    expect((counts[401] ?? 0) + (counts[200] ?? 0)).to.equal(5);
    expect(counts[429]).to.equal(25);
    expectRefusedWithRetryAfter(replies, 429, 'Too many requests', 900);
    const failures = await api.service.db('security_events').where({ type: 'login_failure' }).count({ n: '*' });
    expect(Number(failures[0].n)).to.be.at.most(5);
  });

  it('does not lock the owner out: guesses from another address leave their own address open', async () => {
    const { email, password } = await api.register();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.request('POST', '/login', { body: { email, password: `attack-${i}` }, headers: from('198.51.100.66') }),
      ),
    );
    expect(tally(replies)).to.deep.equal({ 401: 5, 429: 15 });
    const attackerAgain = await api.request('POST', '/login', {
      body: { email, password },
      headers: from('198.51.100.66'),
    });
    expect(attackerAgain.status).to.equal(429);
    const owner = await api.request('POST', '/login', { body: { email, password }, headers: from('203.0.113.10') });
    expect(owner.status).to.equal(200);
  });

  it('holds the per-address limit against spraying many emails at once', async () => {
    const replies = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        api.request('POST', '/login', {
          body: { email: `spray${i}@example.com`, password: 'x' },
          headers: from('198.51.100.2'),
        }),
      ),
    );
    // Exactly the limit's 50 are checked. The others are refused: by the limit
    // (429), or, since every login takes its hashing turn first, by the
    // address's hashing budget when 80 turns at once outrun it (503).
    const counts = tally(replies);
    expect(counts[401]).to.equal(50);
    expect((counts[429] ?? 0) + (counts[503] ?? 0)).to.equal(30);
  });
});

describe('guessing one account from many addresses', function () {
  this.timeout(60_000);
  it('stops at the per-email limit, however the guesses are spread and sent', async () => {
    const api = await startTestServer({ TRUST_PROXY: '1', LOGIN_MAX_FAILURES_PER_EMAIL: '12' });
    try {
      const { email } = await api.register();
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          api.request('POST', '/login', {
            body: { email, password: `spread-${i}` },
            headers: from(`198.51.100.${i % 8}`),
          }),
        ),
      );
      expect(tally(replies)).to.deep.equal({ 401: 12, 429: 28 });
    } finally {
      await api.close();
    }
  });
});

describe('a burst of registrations from one address', function () {
  this.timeout(60_000);
  it('creates no more accounts than the limit, and counts taken emails too', async () => {
    const api = await startTestServer({ REGISTRATIONS_PER_ADDRESS: '6' });
    try {
      const body = (i: number) => ({
        email: `burst${i}@example.com`,
        user_name: `burst_${i}`,
        first_name: 'B',
        last_name: 'R',
        password: 'long-enough-pw',
      });
      const replies = await Promise.all(
        Array.from({ length: 24 }, (_, i) => api.request('POST', '/users', { body: body(i) })),
      );
      expect(tally(replies)).to.deep.equal({ 201: 6, 429: 18 });
      expectRefusedWithRetryAfter(replies, 429, 'Too many requests', 3600);
      const [row] = await api.service.db('users').where('email', 'like', 'burst%').count({ n: '*' });
      expect(Number(row.n)).to.equal(6);
    } finally {
      await api.close();
    }
  });

  it('counts attempts that find the email taken', async () => {
    const api = await startTestServer({ REGISTRATIONS_PER_ADDRESS: '3' });
    try {
      const taken = {
        email: 'taken@example.com',
        user_name: 'taken',
        first_name: 'T',
        last_name: 'K',
        password: 'long-enough-pw',
      };
      expect((await api.request('POST', '/users', { body: taken })).status).to.equal(201);
      const again = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          api.request('POST', '/users', { body: { ...taken, user_name: `taken_${i}` } }),
        ),
      );
      expect(tally(again)).to.deep.equal({ 409: 2, 429: 3 });
    } finally {
      await api.close();
    }
  });
});

describe('credential generations', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    // Logins with the old password fail once the change lands; dozens of them
    // must not reach the login limits, which have tests of their own.
    api = await startTestServer({
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      PASSWORD_HASH_QUEUE_SECONDS_PER_ADDRESS: '30',
    });
  });
  after(() => api.close());

  it('leaves no session opened with the old password once a password change has answered', async () => {
    // The premise: some login was in flight across the change's answer (sent
    // before it, answered after it), in the window the race is about. Rounds
    // go on until one was, or the test fails for never having tested it.
    let straddled = 0;
    for (let round = 0; round < 10 && straddled < 3; round += 1) {
      const user = await api.register();
      let changeAnsweredAt = Infinity;
      const change = api
        .request('PUT', `/users/update_password/${user.id}`, {
          token: user.token,
          body: { existing_password: user.password, password: `a-new-password-${round}` },
        })
        .then((reply) => {
          changeAnsweredAt = performance.now();
          return reply;
        });
      // Logins arriving while the change checks and hashes: they read the old
      // password, and finish after the change has ended the other sessions.
      const logins = Array.from({ length: 20 }, (_, i) =>
        new Promise((resolve) => setTimeout(resolve, i * 6)).then(async () => {
          const sentAt = performance.now();
          const reply = await api.request('POST', '/login', { body: { email: user.email, password: user.password } });
          return { reply, sentAt, answeredAt: performance.now() };
        }),
      );
      const [changed, ...answers] = await Promise.all([change, ...logins]);
      expect(changed.status).to.equal(200);
      straddled += answers.filter((a) => a.sentAt < changeAnsweredAt && a.answeredAt > changeAnsweredAt).length;
      for (const { reply } of answers) expect(reply.status).to.be.oneOf([200, 401]);
      for (const { reply } of answers.filter((a) => a.reply.status === 200)) {
        const check = await api.request('GET', '/protected', { token: reply.body.access_token });
        expect(check.status, 'a session opened with the old password survived the change').to.equal(401);
      }
      // Only the changer's own session is left.
      const [row] = await api.service.db('sessions').where({ user_id: user.id }).count({ n: '*' });
      expect(Number(row.n)).to.equal(1);
    }
    expect(straddled, 'no login was in flight when the change answered').to.be.at.least(3);
  });

  it('lets one of two simultaneous password changes win; the other finds its existing password outdated', async () => {
    const user = await api.register();
    const replies = await Promise.all(
      ['first-new-password', 'second-new-password'].map((password) =>
        api.request('PUT', `/users/update_password/${user.id}`, {
          token: user.token,
          body: { existing_password: user.password, password },
        }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).to.deep.equal([200, 400]);
    expect(replies.find((r) => r.status === 400)!.body).to.deep.equal({
      error: 'Invalid request: Old password is incorrect',
    });
  });
});

describe('wrong existing passwords', function () {
  this.timeout(60_000);
  it('are limited per account (429 on password changes), without locking the owner out of login', async () => {
    const api = await startTestServer({ PASSWORD_CHANGE_MAX_FAILURES_PER_USER: '3' });
    try {
      const user = await api.register();
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          api.request('PUT', `/users/update_password/${user.id}`, {
            token: user.token,
            body: { existing_password: `not-it-${i}`, password: 'another-password' },
          }),
        ),
      );
      expect(tally(replies)).to.deep.equal({ 400: 3, 429: 9 });
      expectRefusedWithRetryAfter(replies, 429, 'Too many requests', 900);
      const right = await api.request('PUT', `/users/update_password/${user.id}`, {
        token: user.token,
        body: { existing_password: user.password, password: 'another-password' },
      });
      expect(right.status).to.equal(429);
      expect(
        (await api.request('POST', '/login', { body: { email: user.email, password: user.password } })).status,
      ).to.equal(200);
    } finally {
      await api.close();
    }
  });

  it('give back the place of a right one', async () => {
    const api = await startTestServer({ PASSWORD_CHANGE_MAX_FAILURES_PER_USER: '1' });
    try {
      const user = await api.register();
      let password = user.password;
      for (let i = 0; i < 3; i += 1) {
        const next = `next-password-${i}`;
        const reply = await api.request('PUT', `/users/update_password/${user.id}`, {
          token: user.token,
          body: { existing_password: password, password: next },
        });
        expect(reply.status).to.equal(200);
        password = next;
      }
    } finally {
      await api.close();
    }
  });
});

describe('the hashing budget', function () {
  this.timeout(60_000);
  it('serves other addresses in turn during a flood, and refuses the flood past its budget with 503', async () => {
    const api = await startTestServer({
      TRUST_PROXY: '1',
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE_SECONDS_PER_ADDRESS: '0.3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
    });
    try {
      const user = await api.register();
      const finished: string[] = [];
      const flood = Array.from({ length: 80 }, (_, i) =>
        api
          .request('POST', '/users', {
            body: {
              email: user.email,
              user_name: `flood_${i}`,
              first_name: 'F',
              last_name: 'L',
              password: 'long-enough-pw',
            },
            headers: from('198.51.100.99'),
          })
          .then((reply) => {
            finished.push('flood');
            return reply;
          }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50)); // the flood is queued
      const honest = await api.request('POST', '/login', {
        body: { email: user.email, password: user.password },
        headers: from('203.0.113.20'),
      });
      finished.push('honest');
      expect(honest.status).to.equal(200);
      const replies = await Promise.all(flood);
      const counts = tally(replies);
      expect(counts[503]).to.be.greaterThan(0);
      expect((counts[409] ?? 0) + (counts[503] ?? 0)).to.equal(80);
      expectRefusedWithRetryAfter(replies, 503, 'Service busy, try again later', 60);
      // The honest login was served in turn, not after the whole flood.
      expect(finished.lastIndexOf('flood')).to.be.greaterThan(finished.indexOf('honest'));
    } finally {
      await api.close();
    }
  });

  it('lets an honest burst of dozens from one address complete, waiting its turn', async () => {
    const api = await startTestServer({ LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0' });
    try {
      const user = await api.register();
      const replies = await Promise.all(
        Array.from({ length: 36 }, () =>
          api.request('POST', '/login', { body: { email: user.email, password: user.password } }),
        ),
      );
      expect(tally(replies)).to.deep.equal({ 200: 36 });
    } finally {
      await api.close();
    }
  });
});
