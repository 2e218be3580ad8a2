import { expect } from 'chai';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, TEST_SECRET } from '../support/server.js';

describe('logs', () => {
  it('hold no password, hash, token, secret or Authorization header, even when requests fail', async () => {
    const api = await startTestServer({}, { captureLogs: true });
    const secrets: string[] = [TEST_SECRET];
    try {
      const password = 'correct-horse-battery-staple';
      const user = await api.register({ password });
      secrets.push(password, user.token);
      const second = await api.login(user.email, password);
      secrets.push(second);
      await api.request('POST', '/login', { body: { email: user.email, password: 'a-wrong-guess-1234' } });
      secrets.push('a-wrong-guess-1234');
      await api.request('PUT', `/users/update_password/${user.id}`, {
        body: { existing_password: password, password: 'the-next-password-99' },
        token: user.token,
      });
      secrets.push('the-next-password-99');
      await api.request('GET', '/protected', { headers: { authorization: 'Bearer forged.token.value' } });
      secrets.push('forged.token.value');
      await api.request('POST', '/users', { raw: '{"password": "in-a-broken-body-77", ' });
      secrets.push('in-a-broken-body-77');
      // A database failure while inserting: the driver's message quotes the SQL and its values.
      await api.service.db.schema.renameTable('users', 'users_away');
      try {
        await api.request('POST', '/users', {
          body: {
            email: 'fails@example.com',
            user_name: 'fails',
            first_name: 'F',
            last_name: 'X',
            password: 'password-in-failing-insert',
          },
        });
      } finally {
        await api.service.db.schema.renameTable('users_away', 'users');
      }
      secrets.push('password-in-failing-insert');
      const { password_hash } = await api.service.db('users').where({ id: user.id }).first();
      secrets.push(password_hash, password_hash.split('$').pop());
    } finally {
      await api.close();
    }

    const log = api.logLines.join('');
    expect(api.logLines.length, 'the run was logged').to.be.greaterThan(8);
    expect(log).to.include('"statusCode":500');
    for (const secret of secrets) expect(log, 'a secret in the log').not.to.include(secret);
    expect(log).not.to.match(/\$argon2id\$/);
    expect(log.toLowerCase()).not.to.include('bearer');
    expect(log.toLowerCase()).not.to.include('authorization');
  });

  it('write one line per request with method, path, route, status, duration and request id', async () => {
    const api = await startTestServer({}, { captureLogs: true });
    try {
      await api.request('GET', '/users/12345', { headers: { 'x-request-id': 'trace-me-1' } });
    } finally {
      await api.close();
    }
    const line = api.logLines.map((l) => JSON.parse(l)).find((entry) => entry.req?.id === 'trace-me-1');
    expect(line).to.deep.include({
      req: { id: 'trace-me-1', method: 'GET', path: '/users/12345' },
      route: '/users/{user_id}',
      res: { statusCode: 401 },
    });
    expect(line.responseTime).to.be.a('number');
  });

  it('logs a request whose client left while sending its body as aborted', async () => {
    const api = await startTestServer({}, { captureLogs: true });
    try {
      const { port } = new URL(api.url);
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: leaves-early\r\nContent-Length: 100\r\n\r\n{"email":',
      );
      await sleep(100);
      socket.destroy();
      let line: { msg?: string } | undefined;
      for (let waited = 0; !line && waited < 2000; waited += 50) {
        await sleep(50);
        line = api.logLines.map((l) => JSON.parse(l)).find((entry) => entry.req?.id === 'leaves-early');
      }
      expect(line?.msg).to.equal('request aborted');
    } finally {
      await api.close();
    }
  });
});
