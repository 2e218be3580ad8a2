// The signed-in user's sessions: listing them, ending one, ending the others.
// Races are fired in parallel.
import { expect } from 'chai';
import { ADMIN, startTestServer, tally, type TestServer } from '../support/server.js';

const SESSION_NOT_FOUND = { error: 'Session not found' };
const sessionIdOf = (token: string) => String(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti);

describe('your sessions', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  /** A user with three sessions: registration's, then logins from two user agents. */
  async function userWithThreeSessions() {
    const user = await api.register();
    const loginAs = async (agent: string) => {
      const reply = await api.request('POST', '/login', {
        body: { email: user.email, password: user.password },
        headers: { 'user-agent': agent },
      });
      return reply.body.access_token as string;
    };
    const phone = await loginAs('MyApp/2.4 (iPhone; iOS 18.1)');
    const laptop = await loginAs('Mozilla/5.0\tFirefox/133.0');
    return { ...user, phone, laptop };
  }

  it('lists the open sessions, newest first, with where they started and which one is yours', async () => {
    const user = await userWithThreeSessions();
    const stranger = await api.register();
    const reply = await api.request('GET', '/sessions', { token: user.phone });
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('cache-control')).to.equal('no-store');
    const { sessions } = reply.body as { sessions: Record<string, unknown>[] };
    expect(sessions.map((s) => s.id)).to.have.members([user.token, user.phone, user.laptop].map(sessionIdOf));
    expect(sessions.map((s) => s.id)).to.not.include(sessionIdOf(stranger.token));
    const created = sessions.map((s) => Date.parse(String(s.created_at)));
    expect(created).to.deep.equal([...created].sort((a, b) => b - a));
    const phone = sessions.find((s) => s.id === sessionIdOf(user.phone))!;
    expect(phone).to.include({ current: true, address: '127.0.0.1', user_agent: 'MyApp/2.4 (iPhone; iOS 18.1)' });
    expect(Date.parse(String(phone.expires_at))).to.be.greaterThan(Date.parse(String(phone.created_at)));
    // Control characters are dropped from what is kept.
    const laptop = sessions.find((s) => s.id === sessionIdOf(user.laptop))!;
    expect(laptop).to.include({ current: false, user_agent: 'Mozilla/5.0Firefox/133.0' });
  });

  it("ends one session, and answers 404 alike for another user's and an unknown one", async () => {
    const user = await userWithThreeSessions();
    const stranger = await api.register();
    const ended = await api.request('DELETE', `/sessions/${sessionIdOf(user.laptop)}`, { token: user.phone });
    expect(ended.status).to.equal(200);
    expect(ended.body).to.deep.equal({ message: 'Session ended' });
    expect((await api.request('GET', '/protected', { token: user.laptop })).status).to.equal(401);
    expect((await api.request('GET', '/protected', { token: user.phone })).status).to.equal(200);

    for (const id of [sessionIdOf(stranger.token), '00000000-0000-4000-8000-000000000000']) {
      const refused = await api.request('DELETE', `/sessions/${id}`, { token: user.phone });
      expect(refused.status).to.equal(404);
      expect(refused.body).to.deep.equal(SESSION_NOT_FOUND);
    }
    expect((await api.request('GET', '/protected', { token: stranger.token })).status).to.equal(200);
    const malformed = await api.request('DELETE', '/sessions/not-a-session', { token: user.phone });
    expect(malformed.status).to.equal(400);
    expect(malformed.body.error).to.equal('Incorrect field');
    // Ending the current one is a logout.
    expect(
      (await api.request('DELETE', `/sessions/${sessionIdOf(user.phone)}`, { token: user.phone })).status,
    ).to.equal(200);
    expect((await api.request('GET', '/protected', { token: user.phone })).status).to.equal(401);
  });

  it('is the same for moderators and admins: their own sessions only', async () => {
    const user = await userWithThreeSessions();
    const adminToken = await api.login(ADMIN.email, ADMIN.password);
    const moderator = await api.register({ role: 'moderator' }, adminToken);
    for (const token of [moderator.token, adminToken]) {
      const { sessions } = (await api.request('GET', '/sessions', { token })).body as { sessions: { id: string }[] };
      expect(sessions.map((s) => s.id)).to.not.include(sessionIdOf(user.phone));
      const refused = await api.request('DELETE', `/sessions/${sessionIdOf(user.phone)}`, { token });
      expect(refused.status).to.equal(404);
      expect(refused.body).to.deep.equal(SESSION_NOT_FOUND);
    }
    expect((await api.request('GET', '/protected', { token: user.phone })).status).to.equal(200);
  });

  it('ends one session once when asked twice at the same moment', async () => {
    const user = await userWithThreeSessions();
    const path = `/sessions/${sessionIdOf(user.laptop)}`;
    const replies = await Promise.all([user.phone, user.token].map((token) => api.request('DELETE', path, { token })));
    expect(tally(replies)).to.deep.equal({ 200: 1, 404: 1 });
  });

  it('ends every other session and keeps the current one', async () => {
    const user = await userWithThreeSessions();
    const reply = await api.request('DELETE', '/sessions', { token: user.phone });
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({ ended: 2 });
    expect((await api.request('GET', '/protected', { token: user.token })).status).to.equal(401);
    expect((await api.request('GET', '/protected', { token: user.laptop })).status).to.equal(401);
    expect((await api.request('GET', '/protected', { token: user.phone })).status).to.equal(200);
    const { sessions } = (await api.request('GET', '/sessions', { token: user.phone })).body;
    expect(sessions).to.have.length(1);
    expect((await api.request('GET', '/sessions')).status).to.equal(401);
  });
});
