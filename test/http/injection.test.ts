import { expect } from 'chai';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';

const PAYLOADS = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  'x"); DELETE FROM sessions; --',
  "admin'--",
  '1 UNION SELECT password_hash FROM users',
];

describe('SQL-injection-looking input', () => {
  let api: TestServer;
  let user: { id: number; token: string; email: string; password: string };
  before(async () => {
    api = await startTestServer({
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
    });
    user = await api.register();
  });
  after(() => api.close());

  it('is refused or stored verbatim in every string field, never a 5xx, and the data stays intact', async () => {
    const usersBefore = await api.service.db('users').count({ n: '*' });
    let created = 0;
    for (const [index, payload] of PAYLOADS.entries()) {
      const base = {
        email: `inj${index}@example.com`,
        user_name: `inj_${index}`,
        first_name: 'I',
        last_name: 'J',
        password: 'long-enough-pw',
      };
      for (const field of Object.keys(base)) {
        const reply = await api.request('POST', '/users', {
          body: {
            ...base,
            user_name: `inj_${index}_${field.length}`,
            email: `inj${index}.${field}@example.com`,
            [field]: payload,
          },
        });
        expect(reply.status, `${field}=${payload}`).to.be.oneOf([201, 400, 409]);
        if (reply.status === 201) created += 1;
      }
      for (const field of ['first_name', 'last_name', 'email', 'user_name']) {
        const reply = await api.request('PUT', `/users/update/${user.id}`, {
          body: { [field]: payload },
          token: user.token,
        });
        expect(reply.status, `update ${field}=${payload}`).to.be.oneOf([200, 400, 409]);
      }
      for (const body of [
        { email: payload, password: payload },
        { email: user.email, password: payload },
      ]) {
        expect((await api.request('POST', '/login', { body })).status).to.be.oneOf([400, 401]);
      }
      const change = await api.request('PUT', `/users/update_password/${user.id}`, {
        body: { existing_password: payload, password: `${payload}-new-password` },
        token: user.token,
      });
      expect(change.status).to.be.oneOf([400]);
      expect(
        (await api.request('GET', `/users/${encodeURIComponent(payload)}`, { token: user.token })).status,
      ).to.equal(400);
      expect((await api.request('GET', `/users/pagination?page=${encodeURIComponent(payload)}`)).status).to.equal(400);
    }

    // Names are free text: the payload is stored and read back exactly as sent.
    const profile = await api.request('GET', `/users/${user.id}`, { token: user.token });
    expect(profile.body.last_name).to.equal(PAYLOADS.at(-1));
    const usersAfter = await api.service.db('users').count({ n: '*' });
    expect(Number(usersAfter[0].n)).to.equal(Number(usersBefore[0].n) + created);
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(200);
    await api.login(ADMIN.email, ADMIN.password);
  });
});
