// Small ways a hostile client used to get a 500, a forged audit entry or an
// account takeover step; each now gets the documented answer.
import { expect } from 'chai';
import argon2 from 'argon2';
import { statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARGON2_OPTIONS } from '../../src/domain/passwords.js';
import { backend } from '../support/database.js';
import { ADMIN, newUserBody, startTestServer, type TestServer } from '../support/server.js';

describe('control characters', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  for (const character of ['\u0000', '\u0007', '\u001b', '\u007f', '\u0085']) {
    const shown = `U+${character.codePointAt(0)!.toString(16).padStart(4, '0')}`;
    it(`answers 400 to ${shown} in any string field of any operation, and stores nothing`, async () => {
      const user = await api.register();
      for (const field of Object.keys(newUserBody('ctl'))) {
        const body = { ...newUserBody(`ctl${field}`), [field]: `bad${character}value-long` };
        const reply = await api.request('POST', '/users', { body });
        expect(reply.status, `createUser ${field}`).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      }
      const login = await api.request('POST', '/login', {
        body: { email: user.email, password: `x${character}yyyyyyyy` },
      });
      expect(login.status).to.equal(400);
      for (const field of ['email', 'user_name', 'first_name', 'last_name']) {
        const reply = await api.request('PUT', `/users/update/${user.id}`, {
          token: user.token,
          body: { [field]: `a${character}b-c` },
        });
        expect(reply.status, `updateUser ${field}`).to.equal(400);
      }
      const change = await api.request('PUT', `/users/update_password/${user.id}`, {
        token: user.token,
        body: { existing_password: user.password, password: `new${character}password` },
      });
      expect(change.status).to.equal(400);
      const [row] = await api.service.db('users').where('email', 'like', 'personctl%').count({ n: '*' });
      expect(Number(row.n)).to.equal(0);
    });
  }
});

describe('client addresses and request ids', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ TRUST_PROXY: '1' });
  });
  after(() => api.close());

  it('uses the socket address when the forwarded one is not an IP address', async () => {
    for (const forwarded of ['x'.repeat(70), 'not an address', '203.0.113.5:80', '']) {
      const reply = await api.request('POST', '/login', {
        body: { email: 'nobody@example.com', password: 'wrong-password' },
        headers: { 'x-forwarded-for': forwarded, 'x-request-id': `fwd-${forwarded.length}` },
      });
      expect(reply.status, forwarded).to.equal(401);
      const event = await api.service
        .db('security_events')
        .where({ request_id: `fwd-${forwarded.length}` })
        .first();
      expect(event.address).to.match(/^(::ffff:)?127\.0\.0\.1$/);
    }
    await api.request('POST', '/login', {
      body: { email: 'nobody@example.com', password: 'wrong-password' },
      headers: { 'x-forwarded-for': '2001:db8::7', 'x-request-id': 'fwd-ipv6' },
    });
    expect((await api.service.db('security_events').where({ request_id: 'fwd-ipv6' }).first()).address).to.equal(
      '2001:db8::7',
    );
  });

  it('keeps a sent X-Request-Id only when it is short and plain', async () => {
    const echoed = async (id: string) =>
      (await api.request('GET', '/users/pagination', { headers: { 'x-request-id': id } })).headers.get('x-request-id');
    expect(await echoed('abc-DEF_1.2')).to.equal('abc-DEF_1.2');
    expect(await echoed('a'.repeat(64))).to.equal('a'.repeat(64));
    for (const forged of ['a'.repeat(65), 'id:with:colons', 'id with spaces', 'id/slash', 'ünï']) {
      expect(await echoed(forged)).to.match(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('request bodies that are not UTF-8', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('answers 409 Invalid request body instead of replacing the bad bytes', async () => {
    const json = Buffer.from(JSON.stringify(newUserBody('latin1')).replace('Jane', 'J\u0000ne'));
    json[json.indexOf(0)] = 0xe9; // é in Latin-1: not UTF-8
    const reply = await fetch(`${api.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: json,
    });
    expect(reply.status).to.equal(409);
    expect(await reply.json()).to.deep.equal({ error: 'Invalid request body' });
    const login = await fetch(`${api.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([
        ...Buffer.from('{"email":"a@example.com","password":"pass'),
        0xff,
        ...Buffer.from('word12"}'),
      ]),
    });
    expect(login.status).to.equal(409);
  });
});

describe('connections', function () {
  this.timeout(20_000);
  const open = (url: string) =>
    new Promise<Socket>((resolve, reject) => {
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  // resume(): the socket must read the server's answer to see it close.
  const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()).resume());

  it('closes a connection whose headers are late within about a second of HEADERS_TIMEOUT_SECONDS', async () => {
    const api = await startTestServer({ HEADERS_TIMEOUT_SECONDS: '1' });
    try {
      const socket = await open(api.url);
      socket.on('error', () => {});
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finished
      const started = Date.now();
      await closed(socket);
      expect(Date.now() - started).to.be.below(3_500);
    } finally {
      await api.close();
    }
  });

  it('closes connections past MAX_CONNECTIONS at once', async () => {
    const api = await startTestServer({ MAX_CONNECTIONS: '2' });
    try {
      const held = [await open(api.url), await open(api.url)];
      const extra = await open(api.url);
      extra.on('error', () => {});
      await closed(extra);
      for (const socket of held) socket.destroy();
    } finally {
      await api.close();
    }
  });
});

describe('database files', () => {
  it('keeps the SQLite folder and files (database, -wal, -shm) to their owner', async function () {
    if (backend !== 'sqlite') this.skip();
    const parent = mkdtempSync(join(tmpdir(), 'user-service-modes-'));
    const folder = join(parent, 'data');
    const api = await startTestServer({
      DATABASE_URL: `sqlite:${join(folder, 'users.sqlite')}`,
      SIGNING_KEYS_SECRET: undefined,
    });
    try {
      await api.register();
      expect(statSync(folder).mode & 0o777).to.equal(0o700);
      for (const file of ['users.sqlite', 'users.sqlite-wal', 'users.sqlite-shm', 'signing-keys-secret']) {
        expect(statSync(join(folder, file)).mode & 0o777, file).to.equal(0o600);
      }
    } finally {
      await api.close();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('passwords', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0' });
  });
  after(() => api.close());

  it('refuses the most common passwords with 400 and details, at registration and on change', async () => {
    const reply = await api.request('POST', '/users', { body: { ...newUserBody('common'), password: 'Password123' } });
    expect(reply.status).to.equal(400);
    expect(reply.body).to.deep.equal({
      error: 'Incorrect field',
      details: [{ field: 'body.password', message: 'is one of the most common passwords' }],
    });
    const user = await api.register();
    const change = await api.request('PUT', `/users/update_password/${user.id}`, {
      token: user.token,
      body: { existing_password: user.password, password: 'iloveyou' },
    });
    expect(change.status).to.equal(400);
    expect(change.body.error).to.equal('Incorrect field');
  });

  it('counts length after NFKC: eight code points that compose to seven are too short', async () => {
    const reply = await api.request('POST', '/users', { body: { ...newUserBody('short'), password: 'cafe\u0301xyz' } });
    expect(reply.status).to.equal(400);
    expect(reply.body.details).to.deep.equal([{ field: 'body.password', message: 'must be 8 to 128 characters' }]);
  });

  it('accepts the same password typed another way (NFKC)', async () => {
    const user = await api.register({ password: 'r\u00e9sum\u00e9-of-mine' });
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: 're\u0301sume\u0301-of-mine' } }))
        .status,
    ).to.equal(200);
  });

  it('still logs in with a hash made before normalization, and replaces it', async () => {
    const typed = 're\u0301sume\u0301-old-hash';
    const user = await api.register({ password: 'placeholder-password' });
    const legacy = await argon2.hash(typed, ARGON2_OPTIONS);
    await api.service.db('users').where({ id: user.id }).update({ password_hash: legacy });
    expect((await api.request('POST', '/login', { body: { email: user.email, password: typed } })).status).to.equal(
      200,
    );
    const { password_hash } = await api.service.db('users').where({ id: user.id }).first();
    expect(password_hash).to.not.equal(legacy);
    expect(await argon2.verify(password_hash, typed.normalize('NFKC'))).to.equal(true);
    expect(
      (await api.request('POST', '/login', { body: { email: user.email, password: 'r\u00e9sum\u00e9-old-hash' } }))
        .status,
    ).to.equal(200);
  });
});

describe('email changes', () => {
  let api: TestServer;
  let adminToken: string;
  before(async () => {
    api = await startTestServer();
    adminToken = await api.login(ADMIN.email, ADMIN.password);
  });
  after(() => api.close());

  it('are refused to a moderator on another account (403), who may still change its names', async () => {
    const moderator = await api.register({ role: 'moderator' }, adminToken);
    const user = await api.register();
    const email = await api.request('PUT', `/users/update/${user.id}`, {
      token: moderator.token,
      body: { email: 'taken.over@example.com' },
    });
    expect(email.status).to.equal(403);
    expect(email.body).to.deep.equal({ error: 'Forbidden' });
    expect((await api.service.db('users').where({ id: user.id }).first()).email).to.equal(user.email);
    const name = await api.request('PUT', `/users/update/${user.id}`, {
      token: moderator.token,
      body: { first_name: 'Renamed' },
    });
    expect(name.status).to.equal(200);
  });

  it("end the user's other sessions when they change their own email, and keep the current one", async () => {
    const user = await api.register();
    const other = await api.login(user.email, user.password);
    const reply = await api.request('PUT', `/users/update/${user.id}`, {
      token: user.token,
      body: { email: `moved.${user.id}@example.com` },
    });
    expect(reply.status).to.equal(200);
    expect((await api.request('GET', '/protected', { token: other })).status).to.equal(401);
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(200);
    // A change of names only ends nothing.
    const third = await api.login(`moved.${user.id}@example.com`, user.password);
    await api.request('PUT', `/users/update/${user.id}`, { token: user.token, body: { last_name: 'Other' } });
    expect((await api.request('GET', '/protected', { token: third })).status).to.equal(200);
  });
});
