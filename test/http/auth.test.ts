import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { backend, createTestDatabase } from '../support/database.js';
import { withLowS } from '../../src/domain/tokens.js';
import { ADMIN, startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());

describe('authentication', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  describe('POST /login', () => {
    it('answers 200 with a token and its expiry as exp in UTC, no-store', async () => {
      const { email, password, id } = await api.register();
      const reply = await api.request('POST', '/login', { body: { email: email.toUpperCase(), password } });
      expect(reply.status).to.equal(200);
      expect(Object.keys(reply.body).sort()).to.deep.equal(['access_token', 'expires_at', 'refresh_token']);
      expect(reply.body.refresh_token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(reply.headers.get('cache-control')).to.equal('no-store');
      const claims = claimsOf(reply.body.access_token);
      expect(Object.keys(claims).sort()).to.deep.equal(['amr', 'aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sub']);
      expect(claims.amr).to.deep.equal(['pwd']);
      expect(claims.auth_time).to.be.within(claims.iat - 1, claims.iat);
      expect(claims).to.include({ iss: 'user-service', aud: 'user-service' });
      expect(claims.sub).to.equal(String(id));
      expect(claims.exp - claims.iat).to.equal(900);
      const header = headerOf(reply.body.access_token);
      expect(header).to.deep.equal({ alg: 'ES256', typ: 'JWT', kid: header.kid });
      const published = (await api.request('GET', '/.well-known/jwks.json')).body.keys as { kid: string }[];
      expect(published.map((key) => key.kid)).to.include(header.kid);
      expect(reply.body.expires_at).to.equal(new Date(claims.exp * 1000).toISOString().replace('.000Z', 'Z'));
      expect(reply.body.expires_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it('answers the same 401 for an unknown email and a wrong password', async () => {
      const { email } = await api.register();
      const wrong = await api.request('POST', '/login', { body: { email, password: 'wrong-password' } });
      const unknown = await api.request('POST', '/login', { body: { email: 'nobody@example.com', password: 'x' } });
      for (const reply of [wrong, unknown]) {
        expect(reply.status).to.equal(401);
        expect(reply.body).to.deep.equal({ error: 'Invalid credentials' });
      }
    });

    it('answers 400 Incorrect field for a bad body and 409 for unparseable JSON', async () => {
      for (const body of [
        { email: 'a@example.com' },
        { email: 'nope', password: 'x' },
        { email: 'a@example.com', password: 'x', extra: 1 },
      ]) {
        const reply = await api.request('POST', '/login', { body });
        expect(reply.status).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      }
      const bad = await api.request('POST', '/login', { raw: '{"email":' });
      expect(bad.status).to.equal(409);
      expect(bad.body).to.deep.equal({ error: 'Invalid request body' });
    });

    it('accepts an imported bcrypt hash once, then replaces it with argon2id', async () => {
      const { id, email } = await api.register();
      const bcryptHash = bcrypt.hashSync('imported-password', 4);
      await api.service.db('users').where({ id }).update({ password_hash: bcryptHash });
      await api.login(email, 'imported-password');
      const { password_hash } = await api.service.db('users').where({ id }).first();
      expect(password_hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      await api.login(email, 'imported-password');
    });
  });

  for (const algorithm of ['ES256', 'HS256'] as const) {
    describe(`${algorithm} tokens on /protected, /logout and /users`, () => {
      let server: TestServer;
      let user: { id: number; token: string };
      // Signs as the service does: with its current key (ES256) or its secret (HS256).
      let sign: (claims: object, options?: jwt.SignOptions) => string;
      before(async () => {
        server = algorithm === 'ES256' ? api : await startTestServer({ JWT_ALGORITHM: 'HS256' });
        user = await server.register();
        const { kid, key } = server.service.signingKeys?.ring.signingKey() ?? { kid: undefined, key: TEST_SECRET };
        // ES256 in the low-s form, the one spelling the service accepts.
        sign = (claims, options = {}) => {
          const token = jwt.sign(claims, key, { algorithm, ...(kid ? { keyid: kid } : {}), ...options });
          return (options.algorithm ?? algorithm) === 'ES256' ? withLowS(token) : token;
        };
      });
      after(async () => {
        if (server !== api) await server.close();
      });

      const forged = () => {
        // Each crafted token differs from a valid one in one way only.
        const { sub, jti, iss, aud } = claimsOf(user.token);
        const exp = Math.floor(Date.now() / 1000) + 600;
        const valid = { sub, jti, exp, iss, aud };
        const kid = headerOf(user.token).kid as string | undefined;
        const common = {
          'no token': undefined,
          'a malformed token': 'garbage',
          'an alg:none token': jwt.sign(valid, '', { algorithm: 'none' }),
          'an expired token': sign({ ...valid, exp: Math.floor(Date.now() / 1000) - 10 }),
          'a token whose sub is not its session user': sign({ ...valid, sub: '1' }),
          'a token without a session': sign({ ...valid, jti: 'no-such-session' }),
          'a token without jti': sign({ sub, exp, iss, aud }),
          'a token for another issuer': sign({ ...valid, iss: 'another-service' }),
          'a token for another audience': sign({ ...valid, aud: 'another-app' }),
          'a tampered payload': (() => {
            const [h, , signature] = user.token.split('.');
            const payload = Buffer.from(JSON.stringify({ ...claimsOf(user.token), sub: '1' })).toString('base64url');
            return `${h}.${payload}.${signature}`;
          })(),
        };
        if (algorithm === 'HS256') {
          return {
            ...common,
            'a token signed with another secret': jwt.sign(valid, 'another-secret-another-secret-another!'),
            'an HS512 token with the right secret': sign(valid, { algorithm: 'HS512' }),
          };
        }
        const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const publicPem = server.service
          .signingKeys!.ring.verificationKey(kid!)!
          .export({ type: 'spki', format: 'pem' });
        return {
          ...common,
          'a token signed with another key under its kid': jwt.sign(valid, stranger.privateKey, {
            algorithm: 'ES256',
            keyid: kid,
          }),
          'a token naming a key that does not exist': sign(valid, { keyid: 'no-such-key' }),
          'a token naming no key': jwt.sign(valid, server.service.signingKeys!.ring.signingKey().key, {
            algorithm: 'ES256',
          }),
          // RFC 8725 §2.1: the public key used as an HMAC secret.
          'an HS256 token keyed with the public key': hmacToken({ alg: 'HS256', typ: 'JWT', kid }, valid, publicPem),
        };
      };

      it('refuses every crafted or missing token with the documented 401 bodies', async () => {
        for (const [what, token] of Object.entries(forged())) {
          const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
          for (const [method, path, error] of [
            ['GET', '/protected', 'Invalid or expired token'],
            ['POST', '/logout', 'Invalid or expired token'],
            ['GET', `/users/${user.id}`, 'Unauthorized: User authentication failed'],
          ] as const) {
            const reply = await server.request(method, path, { headers });
            expect(reply.status, `${what} on ${path}`).to.equal(401);
            expect(reply.body, `${what} on ${path}`).to.deep.equal({ error });
          }
        }
        expect((await server.request('GET', '/protected', { token: user.token })).status).to.equal(200);
      });

      it('accepts the same claims re-signed correctly (so the crafted ones above fail for their one difference)', async () => {
        const { sub, jti, iss, aud, exp } = claimsOf(user.token);
        const resigned = sign({ sub, jti, iss, aud, exp });
        expect((await server.request('GET', '/protected', { token: resigned })).status).to.equal(200);
      });
    });
  }

  describe('tokens on /protected, /logout and /users', () => {
    let user: { id: number; token: string };
    before(async () => {
      user = await api.register();
    });

    it('refuses a token whose session has expired though the JWT has not, and prunes it', async () => {
      const { token } = await api.register();
      const { jti } = claimsOf(token);
      await api.service
        .db('sessions')
        .where({ id: jti })
        .update({ expires_at: Math.floor(Date.now() / 1000) - 1 });
      expect((await api.request('GET', '/protected', { token })).status).to.equal(401);
      expect(await api.service.sessions.pruneExpired()).to.be.at.least(1);
      expect(await api.service.db('sessions').where({ id: jti }).first()).to.equal(undefined);
    });

    it('refuses a token sent with another scheme', async () => {
      const reply = await api.request('GET', '/protected', { headers: { authorization: `Basic ${user.token}` } });
      expect(reply.status).to.equal(401);
    });

    it('GET /protected answers 200 Token is valid', async () => {
      const reply = await api.request('GET', '/protected', { token: user.token });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ message: 'Token is valid' });
    });

    it('POST /logout ignores a body it does not take, even unparseable', async () => {
      const { token } = await api.register();
      const reply = await api.request('POST', '/logout', { token, raw: '{not json' });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ message: 'Logout successful' });
    });

    it('POST /logout ends only that session, at once', async () => {
      const { email, password, token } = await api.register();
      const second = await api.login(email, password);
      const reply = await api.request('POST', '/logout', { token });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ message: 'Logout successful' });
      expect((await api.request('GET', '/protected', { token })).body).to.deep.equal({
        error: 'Invalid or expired token',
      });
      expect((await api.request('POST', '/logout', { token })).status).to.equal(401);
      expect((await api.request('GET', '/users/1', { token })).status).to.equal(401);
      expect((await api.request('GET', '/protected', { token: second })).status).to.equal(200);
    });
  });
});

describe('the bootstrap admin', () => {
  it('is not made from an account that holds its email, and a taken user name stops start-up', async () => {
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined };
    try {
      const first = await startTestServer(env);
      const squatter = await first.register({ email: 'ops@example.com', user_name: 'ops' });
      await first.close();

      const second = await startTestServer({
        ...env,
        ADMIN_EMAIL: 'ops@example.com',
        ADMIN_PASSWORD: 'ops-admin-password',
      });
      try {
        const profile = await second.request('GET', `/users/${squatter.id}`, { token: squatter.token });
        expect(profile.body.role).to.equal('user');
        expect(
          (
            await second.request('POST', '/login', {
              body: { email: 'ops@example.com', password: 'ops-admin-password' },
            })
          ).status,
        ).to.equal(401);
      } finally {
        await second.close();
      }

      let failure: unknown;
      try {
        await startTestServer({
          ...env,
          ADMIN_EMAIL: 'root@example.com',
          ADMIN_PASSWORD: 'root-admin-password',
          ADMIN_USER_NAME: 'OPS',
        });
      } catch (error) {
        failure = error;
      }
      expect(String(failure)).to.include('ADMIN_USER_NAME "OPS" belongs to another account');
    } finally {
      await database.drop();
    }
  });
});

describe('the bootstrap admin, from before email verification', () => {
  it("is verified at start-up on the operator's word, so REQUIRE_VERIFIED_EMAIL does not lock it out", async () => {
    const database = await createTestDatabase();
    try {
      const first = await startTestServer({ DATABASE_URL: database.url });
      await first.service.db('users').where({ email: ADMIN.email }).update({ email_verified_at: null });
      await first.close();
      const gated = await startTestServer({ DATABASE_URL: database.url, REQUIRE_VERIFIED_EMAIL: 'true' });
      try {
        const token = await gated.login(ADMIN.email, ADMIN.password);
        expect((await gated.request('GET', '/account', { token })).body.email_verified).to.equal(true);
      } finally {
        await gated.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('restarts', () => {
  it('keep users, sessions and logouts (and on SQLite, the generated secret)', async () => {
    const database = await createTestDatabase();
    // On SQLite no SIGNING_KEYS_SECRET: the service generates one and keeps it beside the database.
    const env = { DATABASE_URL: database.url, ...(backend === 'sqlite' ? { SIGNING_KEYS_SECRET: undefined } : {}) };
    try {
      let api = await startTestServer(env);
      const kept = await api.register();
      const loggedOut = await api.login(kept.email, kept.password);
      await api.request('POST', '/logout', { token: loggedOut });
      await api.close();

      api = await startTestServer(env);
      try {
        expect((await api.request('GET', '/protected', { token: kept.token })).status).to.equal(200);
        expect((await api.request('GET', '/protected', { token: loggedOut })).status).to.equal(401);
        expect((await api.request('GET', `/users/${kept.id}`, { token: kept.token })).body.email).to.equal(kept.email);
        const admins = await api.service.db('users').where({ email: ADMIN.email }).count({ n: '*' });
        expect(Number(admins[0].n)).to.equal(1);
      } finally {
        await api.close();
      }

      // A changed ADMIN_PASSWORD does not overwrite the existing admin.
      api = await startTestServer({ ...env, ADMIN_PASSWORD: 'a-different-admin-password' });
      try {
        await api.login(ADMIN.email, ADMIN.password);
        const refused = await api.request('POST', '/login', {
          body: { email: ADMIN.email, password: 'a-different-admin-password' },
        });
        expect(refused.status).to.equal(401);
      } finally {
        await api.close();
      }
    } finally {
      await database.drop();
    }
  });
});

/** A JWT with this header and payload, its signature an HMAC-SHA256 under `key`. */
function hmacToken(header: object, payload: object, key: string | Buffer): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
