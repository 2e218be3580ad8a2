import { expect } from 'chai';
import { SERVER_TIMEOUTS } from '../../src/http/listen.js';
import { newUserBody, startTestServer, type TestServer } from '../support/server.js';

describe('hostile input', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses a "${key}" key with 400, at the top and nested`, async () => {
      for (const [raw, field] of [
        [
          `{"email":"p@example.com","user_name":"proto","first_name":"P","last_name":"P","password":"long-enough-pw","${key}":{"role":"admin"}}`,
          `body.${key}`,
        ],
        [`{"first_name":{"a":[{"${key}":{"isAdmin":true}}]}}`, `body.first_name.a.0.${key}`],
      ]) {
        const reply = await api.request('POST', '/users', { raw });
        expect(reply.status).to.equal(400);
        expect(reply.body).to.deep.equal({
          error: 'Incorrect field',
          details: [{ field, message: 'is not an allowed field name' }],
        });
      }
      expect(({} as Record<string, unknown>).role).to.equal(undefined);
      expect(({} as Record<string, unknown>).isAdmin).to.equal(undefined);
    });
  }

  it('refuses deeply nested JSON quickly with a 4xx', async () => {
    const depth = 7000; // as deep as 16 KiB allows
    for (const raw of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(2000) + '1' + '}'.repeat(2000)]) {
      const started = Date.now();
      const reply = await api.request('POST', '/users', { raw });
      expect(reply.status).to.be.within(400, 499);
      expect(Date.now() - started).to.be.below(2000);
    }
  });

  it('answers 401, never a 5xx, to oversized or odd Authorization headers', async () => {
    for (const authorization of [
      'Bearer ' + 'a'.repeat(12_000),
      'Bearer',
      'Bearer  x.y.z',
      'bearer a.b.c d.e.f',
      '\tBearer a.b.c',
    ]) {
      const reply = await api.request('GET', '/protected', { headers: { authorization } });
      expect(reply.status, authorization.slice(0, 20)).to.equal(401);
    }
    const huge = await api.request('GET', '/protected', { headers: { authorization: 'Bearer ' + 'a'.repeat(20_000) } });
    expect(huge.status).to.be.within(400, 499);
  });

  it('sends the security headers of a JSON API', async () => {
    const reply = await api.request('GET', '/users/pagination');
    expect(reply.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(reply.headers.get('content-security-policy')).to.equal("default-src 'none';frame-ancestors 'none'");
    expect(reply.headers.get('x-frame-options')).to.equal('SAMEORIGIN');
    expect(reply.headers.get('strict-transport-security')).to.match(/^max-age=\d+/);
    expect(reply.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(reply.headers.get('cross-origin-opener-policy')).to.equal('same-origin');
    expect(reply.headers.get('cross-origin-resource-policy')).to.equal('same-origin');
    expect(reply.headers.get('x-xss-protection')).to.equal('0');
    expect(reply.headers.has('access-control-allow-origin')).to.equal(false);
    expect(reply.headers.has('x-powered-by')).to.equal(false);
  });

  it('never answers an undocumented 304: no ETag, and If-None-Match is ignored', async () => {
    const first = await api.request('GET', '/users/pagination');
    expect(first.headers.has('etag')).to.equal(false);
    const again = await api.request('GET', '/users/pagination', { headers: { 'if-none-match': '*' } });
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal(first.body);
  });

  it('keeps the body limit: 16 KiB', async () => {
    const reply = await api.request('POST', '/users', {
      body: { ...newUserBody('big'), last_name: 'x'.repeat(16_500) },
    });
    expect(reply.status).to.equal(409);
  });

  it('bounds how long a client may take to send a request', () => {
    expect(api.server.headersTimeout).to.equal(10_000);
    expect(api.server.requestTimeout).to.equal(SERVER_TIMEOUTS.requestTimeout);
    expect(api.server.keepAliveTimeout).to.equal(SERVER_TIMEOUTS.keepAliveTimeout);
  });
});

describe('CORS_ORIGINS', () => {
  let api: TestServer;
  before(async () => {
    api = await startTestServer({ CORS_ORIGINS: 'https://app.example.com' });
  });
  after(() => api.close());

  it('answers preflights and allows only the listed origins', async () => {
    const preflight = await api.request('OPTIONS', '/login', {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    const other = await api.request('GET', '/users/pagination', { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.has('access-control-allow-origin')).to.equal(false);
  });
});
