// HTTP as the RFCs say, beyond the contract's bodies: challenges on 401
// (RFC 6750), 405 with Allow and HEAD (RFC 9110), server-wide `*` requests,
// and statuses an operation does not document never answered.
import { expect } from 'chai';
import { connect } from 'node:net';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';

/** Sends raw HTTP/1.1 text and reads the status line and headers of the answer. */
function rawRequest(url: string, text: string): Promise<{ status: number; head: string; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body });
    });
  });
}

describe('HTTP semantics', () => {
  let api: TestServer;
  let token: string;
  before(async () => {
    api = await startTestServer();
    token = await api.login(ADMIN.email, ADMIN.password);
  });
  after(() => api.close());

  it('sends a Bearer challenge with every 401, saying invalid_token where one was refused', async () => {
    const none = await api.request('GET', '/protected');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    const bad = await api.request('GET', '/users/1', { token: 'a.b.c' });
    expect(bad.status).to.equal(401);
    expect(bad.headers.get('www-authenticate')).to.equal('Bearer error="invalid_token"');
    const login = await api.request('POST', '/login', { body: { email: ADMIN.email, password: 'not-the-password' } });
    expect(login.status).to.equal(401);
    expect(login.headers.get('www-authenticate')).to.equal('Bearer');
  });

  it('accepts Bearer followed by several spaces, and refuses two Authorization headers', async () => {
    const spaced = await api.request('GET', '/protected', { headers: { authorization: `Bearer    ${token}` } });
    expect(spaced.status).to.equal(200);
    const twice = await rawRequest(
      api.url,
      `GET /protected HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
    expect(twice.status).to.equal(401);
    expect(JSON.parse(twice.body)).to.deep.equal({ error: 'Invalid or expired token' });
  });

  it('answers another method on a known path with 405 and Allow', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/users/pagination', 'GET, HEAD'],
      ['PATCH', '/protected', 'GET, HEAD'],
      ['GET', '/users', 'POST'],
      ['GET', '/login', 'POST'],
      ['POST', '/users/7', 'GET, HEAD'],
      ['POST', '/docs', 'GET, HEAD'],
    ] as const) {
      const reply = await api.request(method, path);
      expect(reply.status, `${method} ${path}`).to.equal(405);
      expect(reply.headers.get('allow'), `${method} ${path}`).to.equal(allow);
      expect(reply.body).to.deep.equal({ error: 'Method not allowed' });
    }
  });

  it("answers HEAD wherever GET works, with GET's status and headers and no body", async () => {
    for (const [path, withToken] of [
      ['/healthz', false],
      ['/users/pagination', false],
      ['/users/1', true],
      ['/protected', true],
    ] as const) {
      const get = await api.request('GET', path, withToken ? { token } : {});
      const head = await fetch(api.url + path, {
        method: 'HEAD',
        headers: withToken ? { authorization: `Bearer ${token}` } : {},
      });
      expect(head.status, path).to.equal(get.status);
      expect(head.headers.get('content-type'), path).to.equal(get.headers.get('content-type'));
      expect(await head.text(), path).to.equal('');
    }
  });

  it('answers GET * with a JSON 404 and OPTIONS * with the methods the server supports', async () => {
    const get = await rawRequest(api.url, 'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(get.status).to.equal(404);
    expect(get.head).to.match(/content-type: application\/json/i);
    expect(JSON.parse(get.body)).to.deep.equal({ error: 'Not found' });
    const options = await rawRequest(api.url, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(options.status).to.equal(204);
    expect(options.head).to.match(/\r\nallow: DELETE, GET, HEAD, OPTIONS, POST, PUT\r\n/i);
  });

  it('ignores unknown query parameters where the operation documents no 400, and refuses them elsewhere', async () => {
    expect((await api.request('GET', '/protected?t=1', { token })).status).to.equal(200);
    expect((await api.request('GET', '/healthz?t=1')).status).to.equal(200);
    expect((await api.request('GET', '/readyz?t=1')).status).to.equal(200);
    const own = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.request('POST', '/logout?t=1', { token: own })).status).to.equal(200);
    const listing = await api.request('GET', '/users/pagination?t=1');
    expect(listing.status).to.equal(400);
    expect(listing.body.error).to.equal('wrong parameters page, per_page');
  });

  it("keeps error details within the spec's FieldProblem, whatever field names are sent", async () => {
    for (const name of ['a b', '', 'x'.repeat(300), 'ü/ö', 'a\u200bb']) {
      const reply = await api.request('POST', '/users', {
        body: {
          email: 'd@example.com',
          user_name: 'details',
          first_name: 'D',
          last_name: 'E',
          password: 'long-enough-pw',
          [name]: 1,
        },
      });
      expect(reply.status, JSON.stringify(name)).to.equal(400);
      for (const problem of reply.body.details) {
        expect(problem.field).to.match(/^[A-Za-z0-9_.$-]{1,200}$/);
        expect(problem.message.length).to.be.at.most(500);
      }
    }
  });

  it('marks profiles, the listing and tokens as not to be stored', async () => {
    expect((await api.request('GET', '/users/1', { token })).headers.get('cache-control')).to.equal('no-store');
    expect((await api.request('GET', '/users/pagination')).headers.get('cache-control')).to.equal('no-store');
    const login = await api.request('POST', '/login', { body: { email: ADMIN.email, password: ADMIN.password } });
    expect(login.headers.get('cache-control')).to.equal('no-store');
  });
});
