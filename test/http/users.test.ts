import { expect } from 'chai';
import { ADMIN, newUserBody as newUser, startTestServer, type TestServer } from '../support/server.js';

describe('users', () => {
  let api: TestServer;
  let adminToken: string;
  before(async () => {
    api = await startTestServer();
    adminToken = await api.login(ADMIN.email, ADMIN.password);
  });
  after(() => api.close());

  describe('POST /users', () => {
    it('creates a user, answers 201 with a JWT that opens a session, no-store', async () => {
      const reply = await api.request('POST', '/users', { body: newUser('a1') });
      expect(reply.status).to.equal(201);
      expect(Object.keys(reply.body)).to.deep.equal(['JWT', 'refresh_token']);
      expect(reply.body.refresh_token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(reply.headers.get('cache-control')).to.equal('no-store');
      const check = await api.request('GET', '/protected', { token: reply.body.JWT });
      expect(check.status).to.equal(200);
    });

    it('trims, NFKC-normalizes and lower-cases the email before storing it', async () => {
      const { id, token } = await api.register({
        email: ' Jane.Doe@Example.COM ',
        user_name: ' ｊａｎｅ_doe ', // full-width letters fold to ASCII
        first_name: ' Jane ',
      });
      const profile = await api.request('GET', `/users/${id}`, { token });
      expect(profile.body).to.deep.equal({
        id,
        email: 'jane.doe@example.com',
        user_name: 'jane_doe',
        first_name: 'Jane',
        last_name: 'User',
        role: 'user',
      });
    });

    const incorrect: [string, object][] = [
      ['a missing field', { email: 'x1@example.com', user_name: 'x_1', first_name: 'A', password: 'longenough' }],
      ['an unknown field', { ...newUser('u1'), nickname: 'jd' }],
      ['a wrong type', { ...newUser('u2'), first_name: 42 }],
      ['an email the full format refuses', { ...newUser('u3'), email: 'a@b' }],
      ['an email over 254 characters', { ...newUser('u4'), email: `${'a'.repeat(64)}@${'b'.repeat(190)}.com` }],
      ['a user_name with a space', { ...newUser('u5'), user_name: 'jane doe' }],
      ['a user_name in another script', { ...newUser('u6'), user_name: 'jаne' }], // Cyrillic а
      ['a user_name of 2 characters', { ...newUser('u7'), user_name: 'ab' }],
      ['a blank first_name', { ...newUser('u8'), first_name: '   ' }],
      ['a password of 7 characters', { ...newUser('u9'), password: 'seven77' }],
      ['a password of 129 characters', { ...newUser('u10'), password: 'p'.repeat(129) }],
      ['an unknown role', { ...newUser('u11'), role: 'root' }],
      ['an array body', []],
    ];
    for (const [what, body] of incorrect) {
      it(`answers 400 Incorrect field for ${what}`, async () => {
        const reply = await api.request('POST', '/users', { body });
        expect(reply.status).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      });
    }

    it('counts password length in characters: 8 emoji are accepted', async () => {
      const reply = await api.request('POST', '/users', { body: { ...newUser('emoji'), password: '🔑'.repeat(8) } });
      expect(reply.status).to.equal(201);
    });

    it('names the failing field in details', async () => {
      const reply = await api.request('POST', '/users', { body: { ...newUser('d1'), email: 'nope' } });
      expect(reply.body.details).to.deep.include({ field: 'body.email', message: 'must match format "email"' });
    });

    it('answers 409 Invalid request body for unparseable JSON and stores nothing', async () => {
      const before = (await api.request('GET', '/users/pagination')).body.total_users;
      const reply = await api.request('POST', '/users', { raw: '{"email": "broken@example.com",' });
      expect(reply).to.include({ status: 409 });
      expect(reply.body).to.deep.equal({ error: 'Invalid request body' });
      expect((await api.request('GET', '/users/pagination')).body.total_users).to.equal(before);
    });

    it('answers 409 for a body not sent as JSON, and for one over 16 KiB', async () => {
      const text = await api.request('POST', '/users', { raw: 'email=a', headers: { 'content-type': 'text/plain' } });
      expect(text.status).to.equal(409);
      expect(text.body).to.deep.equal({ error: 'Invalid request body' });
      const huge = await api.request('POST', '/users', { body: { ...newUser('big'), first_name: 'x'.repeat(17_000) } });
      expect(huge.status).to.equal(409);
      expect(huge.body).to.deep.equal({ error: 'Invalid request body' });
    });

    it('answers 409 for an email or user_name taken in another case, naming the field in details', async () => {
      await api.register({ email: 'taken@example.com', user_name: 'Taken.Name' });
      const email = await api.request('POST', '/users', { body: { ...newUser('t1'), email: 'TAKEN@example.com' } });
      expect(email.status).to.equal(409);
      expect(email.body).to.deep.equal({
        error: 'Invalid request body',
        details: [{ field: 'body.email', message: 'belongs to another account' }],
      });
      const name = await api.request('POST', '/users', { body: { ...newUser('t2'), user_name: 'taken.name' } });
      expect(name.status).to.equal(409);
      expect(name.body).to.deep.equal({
        error: 'Invalid request body',
        details: [{ field: 'body.user_name', message: 'belongs to another account' }],
      });
    });

    it('lets exactly one of many racing registrations of one email win', async () => {
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          api.request('POST', '/users', { body: { ...newUser(`race${i}`), email: 'race@example.com' } }),
        ),
      );
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses).to.deep.equal([201, 409, 409, 409, 409, 409, 409, 409]);
      for (const lost of replies.filter((r) => r.status === 409))
        expect(lost.body).to.deep.equal({
          error: 'Invalid request body',
          details: [{ field: 'body.email', message: 'belongs to another account' }],
        });
    });

    it('refuses moderator and admin roles without an admin token (403)', async () => {
      const { token } = await api.register();
      for (const role of ['moderator', 'admin']) {
        const anonymous = await api.request('POST', '/users', { body: { ...newUser(`r${role}`), role } });
        expect(anonymous.status).to.equal(403);
        expect(anonymous.body).to.deep.equal({ error: 'Forbidden' });
        const asUser = await api.request('POST', '/users', { body: { ...newUser(`ru${role}`), role }, token });
        expect(asUser.status).to.equal(403);
      }
    });

    it('lets an admin create a moderator and an admin', async () => {
      const moderator = await api.register({ role: 'moderator' }, adminToken);
      const profile = await api.request('GET', `/users/${moderator.id}`, { token: adminToken });
      expect(profile.body.role).to.equal('moderator');
      const admin = await api.register({ role: 'admin' }, adminToken);
      expect((await api.request('GET', `/users/${admin.id}`, { token: adminToken })).body.role).to.equal('admin');
    });

    for (const raw of ['null', '1', '"x"', 'true']) {
      it(`answers 400 Incorrect field for valid JSON of the wrong type: ${raw}`, async () => {
        const reply = await api.request('POST', '/users', { raw });
        expect(reply.status).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      });
    }

    it('answers 409 for a compressed body (only plain JSON is read)', async () => {
      const reply = await api.request('POST', '/users', {
        raw: 'xx',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      expect(reply.status).to.equal(409);
      expect(reply.body).to.deep.equal({ error: 'Invalid request body' });
    });

    it('answers 400 for text with a lone UTF-16 surrogate (it could not be stored as sent)', async () => {
      const reply = await api.request('POST', '/users', {
        raw: JSON.stringify(newUser('surrogate')).replace('correct-horse-battery', '\\ud800correct-horse'),
      });
      expect(reply.status).to.equal(400);
      expect(reply.body.details).to.deep.equal([
        { field: 'body.password', message: 'is not well-formed Unicode text' },
      ]);
    });

    it('lets only admins, not moderators, create moderators', async () => {
      const moderator = await api.register({ role: 'moderator' }, adminToken);
      const reply = await api.request('POST', '/users', {
        body: { ...newUser('by-mod'), role: 'moderator' },
        token: moderator.token,
      });
      expect(reply.status).to.equal(403);
    });

    it('answers 401 when a token is sent but is not valid', async () => {
      const reply = await api.request('POST', '/users', { body: newUser('bad-token'), token: 'not.a.token' });
      expect(reply.status).to.equal(401);
      expect(reply.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
    });
  });

  describe('GET /users/{user_id}', () => {
    it('answers 200 with exactly the profile fields to any signed-in user', async () => {
      const reader = await api.register();
      const reply = await api.request('GET', '/users/1', { token: reader.token });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({
        id: 1,
        email: ADMIN.email,
        user_name: ADMIN.user_name,
        first_name: 'Admin',
        last_name: 'Admin',
        role: 'admin',
      });
    });

    it('answers 404 User not found for an id nobody has', async () => {
      const reply = await api.request('GET', '/users/999999', { token: adminToken });
      expect(reply.status).to.equal(404);
      expect(reply.body).to.deep.equal({ error: 'User not found' });
    });

    for (const id of [
      'abc',
      '0',
      '-1',
      '1.5',
      '99999999999',
      '1e3',
      '0x1',
      '+1',
      '01',
      '%201',
      '1.0',
      '%',
      '%E0%A4%A',
    ]) {
      it(`answers 400 Incorrect field for the id "${id}"`, async () => {
        const reply = await api.request('GET', `/users/${id}`, { token: adminToken });
        expect(reply.status).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      });
    }

    it('answers 401 before validating: no token and a bad id', async () => {
      for (const id of ['abc', '%']) {
        const reply = await api.request('GET', `/users/${id}`);
        expect(reply.status).to.equal(401);
        expect(reply.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
      }
    });
  });

  describe('PUT /users/update/{user_id}', () => {
    it('updates a subset of fields and answers 200 {id}', async () => {
      const { id, token } = await api.register();
      const reply = await api.request('PUT', `/users/update/${id}`, { body: { first_name: 'Janet' }, token });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ id });
      const profile = (await api.request('GET', `/users/${id}`, { token })).body;
      expect(profile.first_name).to.equal('Janet');
      expect(profile.last_name).to.equal('User');
    });

    it('answers 400 for an empty body, an unknown field and a role change', async () => {
      const { id, token } = await api.register();
      for (const body of [{}, { nickname: 'x' }, { role: 'admin' }]) {
        const reply = await api.request('PUT', `/users/update/${id}`, { body, token });
        expect(reply.status, JSON.stringify(body)).to.equal(400);
        expect(reply.body.error).to.equal('Incorrect field');
      }
      expect((await api.request('GET', `/users/${id}`, { token })).body.role).to.equal('user');
    });

    it('answers 409 when the new email or user_name belongs to someone else, and changes nothing', async () => {
      const other = await api.register({ user_name: 'Other.One' });
      const { id, token } = await api.register();
      const before = (await api.request('GET', `/users/${id}`, { token })).body;
      const email = await api.request('PUT', `/users/update/${id}`, {
        body: { email: other.email.toUpperCase(), first_name: 'Changed' },
        token,
      });
      expect(email.status).to.equal(409);
      expect(email.body).to.deep.equal({
        error: 'Invalid request body',
        details: [{ field: 'body.email', message: 'belongs to another account' }],
      });
      const name = await api.request('PUT', `/users/update/${id}`, { body: { user_name: 'OTHER.ONE' }, token });
      expect(name.status).to.equal(409);
      expect(name.body).to.deep.equal({
        error: 'Invalid request body',
        details: [{ field: 'body.user_name', message: 'belongs to another account' }],
      });
      expect((await api.request('GET', `/users/${id}`, { token })).body).to.deep.equal(before);
    });

    it('lets a user keep their own email in another case', async () => {
      const { id, token, email } = await api.register();
      const reply = await api.request('PUT', `/users/update/${id}`, { body: { email: email.toUpperCase() }, token });
      expect(reply.status).to.equal(200);
    });

    it('answers 403 to a user updating someone else, whether or not the id exists', async () => {
      const victim = await api.register();
      const { token } = await api.register();
      for (const id of [victim.id, 999999]) {
        const reply = await api.request('PUT', `/users/update/${id}`, { body: { first_name: 'X' }, token });
        expect(reply.status).to.equal(403);
        expect(reply.body).to.deep.equal({ error: 'Forbidden' });
      }
    });

    it('lets a moderator update users but not admins or other moderators; 404 for a missing id', async () => {
      const moderator = await api.register({ role: 'moderator' }, adminToken);
      const otherModerator = await api.register({ role: 'moderator' }, adminToken);
      const plain = await api.register();
      const ok = await api.request('PUT', `/users/update/${plain.id}`, {
        body: { last_name: 'M' },
        token: moderator.token,
      });
      expect(ok.status).to.equal(200);
      for (const id of [1, otherModerator.id]) {
        const refused = await api.request('PUT', `/users/update/${id}`, {
          body: { last_name: 'M' },
          token: moderator.token,
        });
        expect(refused.status).to.equal(403);
      }
      const missing = await api.request('PUT', '/users/update/999999', {
        body: { last_name: 'M' },
        token: moderator.token,
      });
      expect(missing.status).to.equal(404);
      expect(missing.body).to.deep.equal({ error: 'User not found' });
    });

    it('checks in the contract order: 409 unreadable body, then 401, then 400, then 403', async () => {
      const victim = await api.register();
      const { token } = await api.register();
      const path = `/users/update/${victim.id}`;
      const noTokenBadJson = await api.request('PUT', path, { raw: '{"first_name":' });
      expect(noTokenBadJson.status).to.equal(409);
      const noTokenText = await api.request('PUT', path, {
        raw: 'first_name=x',
        headers: { 'content-type': 'text/plain' },
      });
      expect(noTokenText.status).to.equal(409);
      const noTokenBadBody = await api.request('PUT', path, { body: { nickname: 'x' } });
      expect(noTokenBadBody.status).to.equal(401);
      const otherUserBadBody = await api.request('PUT', path, { body: { nickname: 'x' }, token });
      expect(otherUserBadBody.status).to.equal(400);
      const otherUserGoodBody = await api.request('PUT', path, { body: { first_name: 'X' }, token });
      expect(otherUserGoodBody.status).to.equal(403);
    });

    it('lets exactly one of racing updates to the same email win', async () => {
      const racers = await Promise.all(Array.from({ length: 6 }, () => api.register()));
      const replies = await Promise.all(
        racers.map(({ id, token }) =>
          api.request('PUT', `/users/update/${id}`, { body: { email: 'contested@example.com' }, token }),
        ),
      );
      expect(replies.map((r) => r.status).sort()).to.deep.equal([200, 409, 409, 409, 409, 409]);
      for (const lost of replies.filter((r) => r.status === 409))
        expect(lost.body).to.deep.equal({
          error: 'Invalid request body',
          details: [{ field: 'body.email', message: 'belongs to another account' }],
        });
    });

    it('lets an admin update anyone', async () => {
      const plain = await api.register();
      const reply = await api.request('PUT', `/users/update/${plain.id}`, {
        body: { last_name: 'A' },
        token: adminToken,
      });
      expect(reply.status).to.equal(200);
    });

    it('answers 401 without a valid token', async () => {
      const reply = await api.request('PUT', '/users/update/1', { body: { first_name: 'X' } });
      expect(reply.status).to.equal(401);
      expect(reply.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
    });
  });

  describe('PUT /users/update_password/{user_id}', () => {
    it('changes the password, keeps this session and ends the others', async () => {
      const { id, token, email, password } = await api.register();
      const otherSession = await api.login(email, password);
      const reply = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: password, password: 'a-brand-new-password' },
        token,
      });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ message: 'Password updated successfully' });
      expect((await api.request('GET', '/protected', { token })).status).to.equal(200);
      expect((await api.request('GET', '/protected', { token: otherSession })).status).to.equal(401);
      expect((await api.request('POST', '/login', { body: { email, password } })).status).to.equal(401);
      await api.login(email, 'a-brand-new-password');
    });

    it('answers 400 with the exact text for a wrong existing password', async () => {
      const { id, token } = await api.register();
      const reply = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: 'not-my-password', password: 'a-brand-new-password' },
        token,
      });
      expect(reply.status).to.equal(400);
      expect(reply.body).to.deep.equal({ error: 'Invalid request: Old password is incorrect' });
    });

    it('answers 400 Incorrect field before checking the existing password', async () => {
      const { id, token } = await api.register();
      const reply = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: 'not-my-password', password: 'short' },
        token,
      });
      expect(reply.status).to.equal(400);
      expect(reply.body.error).to.equal('Incorrect field');
    });

    it('answers 400 Incorrect field for a new password that breaks the policy', async () => {
      const { id, token, password } = await api.register();
      const reply = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: password, password: 'short' },
        token,
      });
      expect(reply.status).to.equal(400);
      expect(reply.body.error).to.equal('Incorrect field');
    });

    it('answers 403 for anyone but the user themself, admins included', async () => {
      const { id, password } = await api.register();
      const reply = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: password, password: 'a-brand-new-password' },
        token: adminToken,
      });
      expect(reply.status).to.equal(403);
      expect(reply.body).to.deep.equal({ error: 'Forbidden' });
    });

    it('answers 409 for unparseable JSON and 401 without a token', async () => {
      const { id, token } = await api.register();
      const bad = await api.request('PUT', `/users/update_password/${id}`, { raw: '{', token });
      expect(bad.status).to.equal(409);
      expect(bad.body).to.deep.equal({ error: 'Invalid request body' });
      const anonymous = await api.request('PUT', `/users/update_password/${id}`, {
        body: { existing_password: 'x', password: 'a-brand-new-password' },
      });
      expect(anonymous.status).to.equal(401);
      expect(anonymous.body).to.deep.equal({ error: 'Unauthorized: User authentication failed' });
    });
  });
});
