import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createTestDatabase } from '../support/database.js';
import { ADMIN, startTestServer, tally, TEST_SECRET, type TestServer } from '../support/server.js';

const partOf = (token: string, index: number) =>
  JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString()) as Record<string, any>;
const headerOf = (token: string) => partOf(token, 0);
const claimsOf = (token: string) => partOf(token, 1);
const OPERATOR = { address: 'test', requestId: 'test' };

interface Pair {
  access_token: string;
  refresh_token: string;
}

async function signIn(api: TestServer, userAgent = 'app/1.0'): Promise<Pair & { email: string; password: string }> {
  const { email, password } = await api.register();
  const reply = await api.request('POST', '/login', {
    body: { email, password },
    headers: { 'user-agent': userAgent },
  });
  return { ...(reply.body as Pair), email, password };
}

const refresh = (api: TestServer, refreshToken: string, userAgent = 'app/1.0') =>
  api.request('POST', '/token/refresh', {
    body: { refresh_token: refreshToken },
    headers: { 'user-agent': userAgent },
  });

const protectedStatus = async (api: TestServer, token: string) =>
  (await api.request('GET', '/protected', { token })).status;

describe('refresh tokens', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('exchanges a refresh token for a new pair of the same session, each token once', async () => {
    const { id, email } = await api.register();
    const registered = await api.request('POST', '/users', {
      body: {
        email: `again-${email}`,
        user_name: `again_${id}`,
        first_name: 'A',
        last_name: 'B',
        password: 'long-enough-pw',
      },
    });
    const reply = await refresh(api, registered.body.refresh_token);
    expect(reply.status).to.equal(200);
    expect(Object.keys(reply.body).sort()).to.deep.equal(['access_token', 'expires_at', 'refresh_token']);
    expect(reply.headers.get('cache-control')).to.equal('no-store');
    const claims = claimsOf(reply.body.access_token);
    expect(claims.jti).to.equal(claimsOf(registered.body.JWT).jti);
    expect(claims.exp - claims.iat).to.equal(900);
    expect(reply.body.expires_at).to.equal(new Date(claims.exp * 1000).toISOString().replace('.000Z', 'Z'));
    expect(reply.body.refresh_token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(reply.body.refresh_token).not.to.equal(registered.body.refresh_token);
    expect(await protectedStatus(api, reply.body.access_token)).to.equal(200);
    expect(await protectedStatus(api, registered.body.JWT)).to.equal(200); // same session, not expired
    expect((await refresh(api, reply.body.refresh_token)).status).to.equal(200);
    // Only a hash of each refresh token is stored.
    const stored = await api.service.db('refresh_tokens').where({ session_id: claims.jti }).select('token_hash');
    expect(stored).to.have.length(3);
    for (const { token_hash } of stored) expect(token_hash).to.match(/^[0-9a-f]{64}$/);
  });

  it('never lets an access token outlive its session', async () => {
    const pair = await signIn(api);
    const sessionEnd = Math.floor(Date.now() / 1000) + 30;
    await api.service
      .db('sessions')
      .where({ id: claimsOf(pair.access_token).jti })
      .update({ expires_at: sessionEnd });
    const reply = await refresh(api, pair.refresh_token);
    expect(claimsOf(reply.body.access_token).exp).to.equal(sessionEnd);
    await api.service
      .db('sessions')
      .where({ id: claimsOf(pair.access_token).jti })
      .update({ expires_at: sessionEnd - 60 });
    expect((await refresh(api, reply.body.refresh_token)).status).to.equal(401);
  });

  it('answers unknown, malformed and unreadable refresh tokens with the documented errors', async () => {
    const unknown = await refresh(api, 'x'.repeat(43));
    expect(unknown.status).to.equal(401);
    expect(unknown.body).to.deep.equal({ error: 'Invalid or expired refresh token' });
    expect(unknown.headers.get('www-authenticate')).to.equal('Bearer');
    const malformed = await refresh(api, 'too-short');
    expect([malformed.status, malformed.body.error]).to.deep.equal([400, 'Incorrect field']);
    const missing = await api.request('POST', '/token/refresh', { body: {} });
    expect([missing.status, missing.body.error]).to.deep.equal([400, 'Incorrect field']);
    const unreadable = await api.request('POST', '/token/refresh', { raw: '{"refresh_token": ' });
    expect([unreadable.status, unreadable.body]).to.deep.equal([409, { error: 'Invalid request body' }]);
  });

  it('ends the whole session when a used refresh token comes back from another client', async () => {
    const pair = await signIn(api);
    const next = (await refresh(api, pair.refresh_token)).body as Pair;
    const replay = await refresh(api, pair.refresh_token, 'thief/1.0');
    expect([replay.status, replay.body]).to.deep.equal([401, { error: 'Invalid or expired refresh token' }]);
    expect(await protectedStatus(api, next.access_token)).to.equal(401);
    expect((await refresh(api, next.refresh_token)).status).to.equal(401);
    const userId = Number(claimsOf(pair.access_token).sub);
    const events = await api.service.db('security_events').where({ user_id: userId, type: 'refresh_token_reused' });
    expect(events).to.have.length(1);
  });

  it('keeps the session when the same client sends a token again moments after using it', async () => {
    const pair = await signIn(api);
    const next = (await refresh(api, pair.refresh_token)).body as Pair;
    const again = await refresh(api, pair.refresh_token);
    expect([again.status, again.body]).to.deep.equal([409, { error: 'Refresh token already used' }]);
    expect(await protectedStatus(api, next.access_token)).to.equal(200);
    expect((await refresh(api, next.refresh_token)).status).to.equal(200);
  });

  it('of refreshes racing with one token from one client, gives exactly one the pair and keeps the session', async () => {
    const pair = await signIn(api);
    const replies = await Promise.all(Array.from({ length: 10 }, () => refresh(api, pair.refresh_token)));
    expect(tally(replies)).to.deep.equal({ 200: 1, 409: 9 });
    const winner = replies.find((reply) => reply.status === 200)!.body as Pair;
    expect(await protectedStatus(api, winner.access_token)).to.equal(200);
    expect((await refresh(api, winner.refresh_token)).status).to.equal(200);
  });

  it('of refreshes racing with one token from different clients, gives one the pair and ends the session', async () => {
    const pair = await signIn(api);
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, index) => refresh(api, pair.refresh_token, `client/${index}`)),
    );
    expect(tally(replies)).to.deep.equal({ 200: 1, 401: 9 });
    const winner = replies.find((reply) => reply.status === 200)!.body as Pair;
    expect(await protectedStatus(api, winner.access_token)).to.equal(401);
    expect((await refresh(api, winner.refresh_token)).status).to.equal(401);
  });

  it('ends a session for good when logouts and refreshes of it race', async () => {
    const pair = await signIn(api);
    const [logouts, refreshes] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => api.request('POST', '/logout', { token: pair.access_token }))),
      Promise.all(Array.from({ length: 4 }, () => refresh(api, pair.refresh_token))),
    ]);
    expect(tally(logouts)).to.deep.equal({ 200: 1, 401: 3 });
    expect(Object.keys(tally(refreshes)).every((status) => ['200', '401', '409'].includes(status))).to.equal(true);
    for (const won of refreshes.filter((reply) => reply.status === 200)) {
      expect(await protectedStatus(api, (won.body as Pair).access_token)).to.equal(401);
      expect((await refresh(api, (won.body as Pair).refresh_token)).status).to.equal(401);
    }
  });

  it('counts any reuse as theft with REFRESH_TOKEN_REUSE_GRACE_SECONDS=0', async () => {
    const strict = await startTestServer({ REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0' });
    try {
      const pair = await signIn(strict);
      const next = (await refresh(strict, pair.refresh_token)).body as Pair;
      expect((await refresh(strict, pair.refresh_token)).status).to.equal(401);
      expect(await protectedStatus(strict, next.access_token)).to.equal(401);
    } finally {
      await strict.close();
    }
  });

  it('end with their session: logout, a password change, a reset, disabling', async () => {
    const pair = await signIn(api);
    await api.request('POST', '/logout', { token: pair.access_token });
    expect((await refresh(api, pair.refresh_token)).status).to.equal(401);
    await api.service.sessions.pruneExpired(); // takes the tokens of ended sessions too
    const sessionId = claimsOf(pair.access_token).jti;
    expect(await api.service.db('refresh_tokens').where({ session_id: sessionId })).to.deep.equal([]);

    const login = async () =>
      (await api.request('POST', '/login', { body: { email: pair.email, password: pair.password } })).body as Pair;
    const [kept, other] = [await login(), await login()];
    const userId = Number(claimsOf(kept.access_token).sub);
    const changed = await api.request('PUT', `/users/update_password/${userId}`, {
      token: kept.access_token,
      body: { existing_password: pair.password, password: 'a-new-long-password' },
    });
    expect(changed.status).to.equal(200);
    expect((await refresh(api, other.refresh_token)).status).to.equal(401);
    const keptNext = (await refresh(api, kept.refresh_token)).body as Pair;

    expect(await api.service.users.resetPassword(pair.email, 'another-long-password', OPERATOR)).to.equal(true);
    expect((await refresh(api, keptNext.refresh_token)).status).to.equal(401);

    const fresh = (
      await api.request('POST', '/login', { body: { email: pair.email, password: 'another-long-password' } })
    ).body as Pair;
    const adminToken = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('POST', `/admin/users/${userId}/disable`, { token: adminToken })).status).to.equal(200);
    expect((await refresh(api, fresh.refresh_token)).status).to.equal(401);
  });
});

describe('signing keys', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ JWKS_MAX_AGE_SECONDS: '1' });
  });
  after(() => api.close());
  const jwks = async (server = api) =>
    (await server.request('GET', '/.well-known/jwks.json')).body.keys as { kid: string }[];
  const kids = async (server = api) => (await jwks(server)).map((key) => key.kid);
  const keys = () => api.service.signingKeys!;

  it('publishes the signing key at /.well-known/jwks.json, cacheable, and its tokens verify with it', async () => {
    const { token, id } = await api.register();
    const reply = await api.request('GET', '/.well-known/jwks.json');
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('cache-control')).to.equal('public, max-age=1');
    const kid = headerOf(token).kid;
    const published = (reply.body.keys as Record<string, string>[]).find((key) => key.kid === kid);
    expect(published).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(Object.keys(published!).sort()).to.deep.equal(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const { payload } = await jwtVerify(token, createLocalJWKSet(reply.body), {
      issuer: 'user-service',
      audience: 'user-service',
      algorithms: ['ES256'],
    });
    expect(payload.sub).to.equal(String(id));
  });

  it('rotates without downtime: the standby, published ahead, signs; the old key kept while its tokens live', async () => {
    const before = await api.register();
    const oldKid = headerOf(before.token).kid;
    const publishedBefore = await kids();
    const next = await keys().rotate(OPERATOR);
    expect(publishedBefore).to.include(next.kid);
    expect(next.signsFrom - next.createdAt).to.be.at.least(3000); // JWKS max-age 1 s, plus 2 s
    await sleep(Math.max(0, next.signsFrom - Date.now()) + 50);
    const after = await api.login(before.email, before.password);
    expect(headerOf(after).kid).to.equal(next.kid);
    expect(await protectedStatus(api, before.token)).to.equal(200);
    const states = Object.fromEntries((await keys().list()).map((key) => [key.kid, key.state]));
    expect(states).to.include({ [oldKid]: 'verifying', [next.kid]: 'signing' });
    const standby = Object.keys(states).filter((kid) => states[kid] === 'standby');
    expect(standby).to.have.length(1);
    expect(await kids()).to.include.members([oldKid, next.kid, ...standby]);
  });

  it('rotate, wait, retire: a key that never signed and was already published takes over, never the old one', async () => {
    const pair = await signIn(api);
    const oldKid = headerOf(pair.access_token).kid;
    const next = await keys().rotate(OPERATOR);
    await sleep(Math.max(0, next.signsFrom - Date.now()) + 50);
    const current = await signIn(api);
    expect(headerOf(current.access_token).kid).to.equal(next.kid);

    const publishedBefore = await kids();
    expect(await keys().retire(next.kid, OPERATOR)).to.equal(true);
    const renewed = (await refresh(api, current.refresh_token)).body as Pair;
    const signer = headerOf(renewed.access_token).kid;
    expect(signer).not.to.be.oneOf([oldKid, next.kid]);
    expect(publishedBefore).to.include(signer);
    expect(await protectedStatus(api, renewed.access_token)).to.equal(200);
    expect(await protectedStatus(api, current.access_token)).to.equal(401);
    expect(await kids()).not.to.include(next.kid);
  });

  it('retires a key at once: its tokens are refused, a new key signs, and sessions go on by refresh', async () => {
    const pair = await signIn(api);
    const kid = headerOf(pair.access_token).kid;
    expect(await keys().retire(kid, OPERATOR)).to.equal(true);
    expect(await protectedStatus(api, pair.access_token)).to.equal(401);
    expect(await kids()).not.to.include(kid);
    const renewed = (await refresh(api, pair.refresh_token)).body as Pair;
    expect(headerOf(renewed.access_token).kid).not.to.equal(kid);
    expect(await kids()).to.include(headerOf(renewed.access_token).kid);
    expect(await protectedStatus(api, renewed.access_token)).to.equal(200);
    expect(await keys().retire(kid, OPERATOR)).to.equal(false);
  });

  it('accepts a token in one spelling only: canonical base64url and the low-s signature it was signed with', async () => {
    const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const sOf = (token: string) =>
      BigInt(`0x${Buffer.from(token.split('.')[2], 'base64url').subarray(32).toString('hex')}`);
    const tokens = await Promise.all(Array.from({ length: 16 }, () => signIn(api)));
    // Half of raw ECDSA signatures are high-s: sixteen in a row low-s is no accident.
    for (const { access_token } of tokens) expect(sOf(access_token) <= P256_ORDER / 2n).to.equal(true);

    const { access_token: token } = tokens[0];
    const [header, payload, signature] = token.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    const highS = Buffer.from((P256_ORDER - sOf(token)).toString(16).padStart(64, '0'), 'hex');
    const twin = Buffer.concat([bytes.subarray(0, 32), highS]).toString('base64url');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Other last characters that decode to the same bytes (the stray low bits differ).
    const endings = (part: string) =>
      [...alphabet]
        .map((last) => part.slice(0, -1) + last)
        .filter((other) => other !== part && Buffer.from(other, 'base64url').equals(Buffer.from(part, 'base64url')));
    const spellings = [
      `${header}.${payload}.${twin}`,
      ...endings(signature).map((other) => `${header}.${payload}.${other}`),
      ...endings(twin).map((other) => `${header}.${payload}.${other}`),
      ...endings(payload).map((other) => `${header}.${other}.${signature}`),
      `${header}=.${payload}.${signature}`,
    ];
    expect(spellings.length).to.be.at.least(31);
    const statuses = await Promise.all(spellings.map((spelling) => protectedStatus(api, spelling)));
    expect(tally(statuses.map((status) => ({ status })))).to.deep.equal({ 401: spellings.length });
    expect(await protectedStatus(api, token)).to.equal(200);
  });

  it('refuses to start with a SIGNING_KEYS_SECRET that does not open the keys', async () => {
    const database = await createTestDatabase();
    try {
      const first = await startTestServer({ DATABASE_URL: database.url });
      await first.close();
      const attempt = startTestServer({ DATABASE_URL: database.url, SIGNING_KEYS_SECRET: `${TEST_SECRET}-other` });
      await attempt.then(
        (server) => server.close().then(() => expect.fail('started')),
        (error: Error) =>
          expect(error.message).to.match(/^SIGNING_KEYS_SECRET does not open signing key \S+: set the secret/),
      );
    } finally {
      await database.drop();
    }
  });

  it('with JWT_ALGORITHM=HS256 signs with the secret and publishes no keys', async () => {
    const shared = await startTestServer({ JWT_ALGORITHM: 'HS256' });
    try {
      const { token } = await shared.register();
      expect(headerOf(token)).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
      expect(await jwks(shared)).to.deep.equal([]);
      expect(await protectedStatus(shared, token)).to.equal(200);
    } finally {
      await shared.close();
    }
  });
});

describe('a service that verifies tokens on its own (jose, remote JWKS)', () => {
  it('accepts tokens before and after a rotation, and refuses a retired key once its cached JWKS expires', async () => {
    const api = await startTestServer({ JWKS_MAX_AGE_SECONDS: '1' });
    const verifier = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'support', 'jwks-verifier.ts')].concat([
        `${api.url}/.well-known/jwks.json`,
        'user-service',
        'user-service',
        '1',
      ]),
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const answers = createInterface({ input: verifier.stdout })[Symbol.asyncIterator]();
    const verify = async (token: string) => {
      verifier.stdin.write(`${token}\n`);
      return JSON.parse((await answers.next()).value as string) as { valid: boolean; sub?: string; code?: string };
    };
    try {
      const user = await api.register();
      expect(await verify(user.token)).to.deep.equal({ valid: true, sub: String(user.id) });
      expect((await verify(`${user.token.slice(0, -4)}AAAA`)).valid).to.equal(false);

      const next = await api.service.signingKeys!.rotate(OPERATOR);
      await sleep(next.signsFrom - Date.now() + 50);
      const rotated = await api.login(user.email, user.password);
      expect(headerOf(rotated).kid).to.equal(next.kid);
      expect(await verify(rotated)).to.deep.equal({ valid: true, sub: String(user.id) });
      expect(await verify(user.token)).to.deep.equal({ valid: true, sub: String(user.id) });

      await api.service.signingKeys!.retire(headerOf(user.token).kid, OPERATOR);
      // An offline verifier learns of it when its cached key set expires (max-age 1 s here).
      const deadline = Date.now() + 10_000;
      let refused = await verify(user.token);
      while (refused.valid && Date.now() < deadline) {
        await sleep(200);
        refused = await verify(user.token);
      }
      expect(refused).to.deep.equal({ valid: false, code: 'ERR_JWKS_NO_MATCHING_KEY' });
      expect(await verify(rotated)).to.deep.equal({ valid: true, sub: String(user.id) });
    } finally {
      verifier.kill();
      await api.close();
    }
  });
});
