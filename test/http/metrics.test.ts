import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';

const scrape = async (api: TestServer, token?: string) => {
  const response = await fetch(`${api.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
};

describe('metrics', () => {
  it('count requests by route and status, login outcomes and open sessions', async () => {
    const api = await startTestServer();
    try {
      const user = await api.register();
      await api.login(user.email, user.password);
      await api.request('POST', '/login', { body: { email: user.email, password: 'wrong-password' } });
      await api.request('GET', `/users/${user.id}`, { token: user.token });
      await api.request('GET', '/users/999999', { token: user.token });

      const { status, text, type } = await scrape(api);
      expect(status).to.equal(200);
      expect(type).to.match(/^text\/plain/);
      expect(text).to.include('http_requests_total{method="GET",route="/users/{user_id}",status="200"} 1');
      expect(text).to.include('http_requests_total{method="GET",route="/users/{user_id}",status="404"} 1');
      expect(text).to.include('http_requests_total{method="POST",route="/users",status="201"} 1');
      expect(text).to.include(
        'http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/login",status="200"} 1',
      );
      expect(text).to.include('user_service_logins_total{outcome="success"} 1');
      expect(text).to.include('user_service_logins_total{outcome="failure"} 1');
      expect(text).to.match(/user_service_active_sessions \d+/);
      const sessions = Number(/user_service_active_sessions (\d+)/.exec(text)![1]);
      expect(sessions).to.equal(Number((await api.service.db('sessions').count({ n: '*' }))[0].n));
    } finally {
      await api.close();
    }
  });

  it('need the token when METRICS_TOKEN is set', async () => {
    const api = await startTestServer({ METRICS_TOKEN: 'scrape-token-0123456789' });
    try {
      expect((await scrape(api)).status).to.equal(401);
      expect((await scrape(api, 'wrong-token-0123456789')).status).to.equal(401);
      expect((await scrape(api, 'scrape-token-0123456789')).status).to.equal(200);
    } finally {
      await api.close();
    }
  });

  it('are not served when METRICS_ENABLED=false', async () => {
    const api = await startTestServer({ METRICS_ENABLED: 'false' });
    try {
      expect((await scrape(api)).status).to.equal(404);
    } finally {
      await api.close();
    }
  });
});
