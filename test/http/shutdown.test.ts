// Stopping on SIGTERM or SIGINT: requests in flight finish and the process
// exits 0, as one process and as a cluster (WEB_CONCURRENCY=2), whether the
// signal goes to the primary alone or, as systemd, a container runtime or
// Ctrl-C send it, to the whole process group.
import { expect } from 'chai';
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { parseLogLine, startServerProcess, type ServerProcess } from '../support/process.js';
import { TEST_SECRET } from '../support/server.js';

const USER = {
  email: 'slow@example.com',
  user_name: 'slow',
  first_name: 'S',
  last_name: 'L',
  password: 'long-enough-pw',
};
const CREDENTIALS = JSON.stringify({ email: USER.email, password: USER.password });
const LOGINS = 6;
const DRAINING = /finishing requests in flight/;
// A drain here takes a few seconds at most (SHUTDOWN_GRACE_SECONDS is 10);
// still running after this long, the process would never have stopped.
const EXIT_LIMIT_MS = 30_000;
// Logged within milliseconds of the signal; well inside SHUTDOWN_GRACE_SECONDS,
// after which the logins waiting for their bodies would be cut off.
const DRAIN_LOG_LIMIT_MS = 5_000;

function settings(database: TestDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_SECRET,
    SIGNING_KEYS_SECRET: TEST_SECRET,
    LOG_LEVEL: 'info',
    // Six logins at once for one email from one address would pass the strict
    // login limit (5 in flight): it has tests of its own.
    LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
    ...extra,
  };
}

async function register(url: string): Promise<void> {
  const reply = await fetch(`${url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(USER),
  });
  expect(reply.status).to.equal(201);
}

/**
 * A login on a connection of its own, sent up to its body: `onServer`
 * resolves once the server has read its headers and asked for the body
 * (100-continue), so the request is being handled and can't be answered
 * before `sendBody()`. `answered` is its status, or the socket's error.
 */
function loginAwaitingBody(url: string) {
  const request = http.request(`${url}/login`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(CREDENTIALS),
      expect: '100-continue',
    },
  });
  const onServer = once(request, 'continue');
  const answered = new Promise<number | string>((resolve) => {
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', (error) => resolve(error.message));
  });
  request.flushHeaders();
  return { onServer, answered, sendBody: () => request.end(CREDENTIALS) };
}

/**
 * Six logins are on the server when `signal()` is sent, and their bodies
 * follow only once each of the `processes` serving them has logged that it is
 * draining (and `whileDraining` is done): every one of them was in flight
 * when the drain began.
 */
async function expectLoginsAnsweredThrough(
  server: ServerProcess,
  processes: number,
  signal: () => void,
  whileDraining: () => Promise<unknown> = async () => {},
) {
  const logins = Array.from({ length: LOGINS }, () => loginAwaitingBody(server.url));
  await Promise.all(logins.map((login) => login.onServer));
  signal();
  const draining = await drainingProcesses(server, processes);
  await whileDraining();
  for (const login of logins) login.sendBody();
  expect(await Promise.all(logins.map((login) => login.answered))).to.deep.equal(Array(LOGINS).fill(200));
  expect(draining, 'processes that began draining').to.equal(processes);
}

/**
 * How many processes have logged that they are draining, once `processes` of
 * them have or DRAIN_LOG_LIMIT_MS has passed (one that was killed never will).
 */
async function drainingProcesses(server: ServerProcess, processes: number): Promise<number> {
  const limit = Date.now() + DRAIN_LOG_LIMIT_MS;
  for (;;) {
    const pids = new Set(
      server.logLines.flatMap(parseLogLine).flatMap((line) => (DRAINING.test(line.msg) ? line.pid : [])),
    );
    if (pids.size >= processes || Date.now() > limit) return pids.size;
    await sleep(20);
  }
}

/** The process's exit code and signal, or an error when it is still running after `limitMs`. */
async function exitWithin(
  child: ChildProcess,
  limitMs: number,
): Promise<{ code: number | null; signal: string | null }> {
  const limit = Date.now() + limitMs;
  while (child.exitCode === null && child.signalCode === null) {
    if (Date.now() > limit) throw new Error(`still running ${limitMs / 1000} s after the signal`);
    await sleep(50);
  }
  return { code: child.exitCode, signal: child.signalCode };
}

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch (error) {
    return ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
  }
}

describe('graceful shutdown', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    database = await createTestDatabase();
    server = await startServerProcess(settings(database), { captureLogs: true });
  });
  after(async () => {
    await server.stop();
    await database.drop();
  });

  it('finishes logins in flight on SIGTERM, then exits 0', async () => {
    await register(server.url);
    await expectLoginsAnsweredThrough(server, 1, () => server.child.kill('SIGTERM'));
    expect(await exitWithin(server.child, EXIT_LIMIT_MS)).to.deep.equal({ code: 0, signal: null });
  });

  it('turns readiness 503 for SHUTDOWN_READINESS_DELAY_SECONDS before closing, answering with Connection: close', async () => {
    const own = await createTestDatabase();
    const draining = await startServerProcess({
      DATABASE_URL: own.url,
      JWT_SECRET: TEST_SECRET,
      SIGNING_KEYS_SECRET: TEST_SECRET,
      LOG_LEVEL: 'fatal',
      SHUTDOWN_READINESS_DELAY_SECONDS: '2',
    });
    try {
      expect((await fetch(`${draining.url}/readyz`)).status).to.equal(200);
      const exited = once(draining.child, 'exit');
      const signalled = Date.now();
      draining.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ready = await fetch(`${draining.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(await ready.json()).to.deep.equal({ status: 'unavailable', reason: 'shutting down' });
      expect(ready.headers.get('connection')).to.equal('close');
      // Still serving while load balancers take it out of rotation.
      const live = await fetch(`${draining.url}/healthz`);
      expect(live.status).to.equal(200);
      expect(live.headers.get('connection')).to.equal('close');
      const [code] = await exited;
      expect(code).to.equal(0);
      expect(Date.now() - signalled).to.be.at.least(2_000);
    } finally {
      await draining.stop();
      await own.drop();
    }
  });
});

describe('graceful shutdown of a cluster (WEB_CONCURRENCY=2)', function () {
  this.timeout(90_000);
  let database: TestDatabase;
  let server: ServerProcess | undefined;

  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    // Whatever a failed test left running: the primary and its workers.
    const pid = server?.child.pid;
    if (pid !== undefined && server?.child.exitCode === null && server.child.signalCode === null) {
      process.kill(-pid, 'SIGKILL');
      await once(server.child, 'exit');
    }
    server = undefined;
    await database.drop();
  });

  async function startCluster(extra: Record<string, string> = {}): Promise<ServerProcess> {
    server = await startServerProcess(settings(database, { WEB_CONCURRENCY: '2', ...extra }), {
      captureLogs: true,
      detached: true,
    });
    // The primary says so once both workers listen; until then one may be serving alone.
    await server.untilLogged(/^User service listening on/);
    return server;
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`finishes logins in flight on ${signal} to the primary, then exits 0`, async () => {
      const cluster = await startCluster();
      await register(cluster.url);
      await expectLoginsAnsweredThrough(cluster, 2, () => cluster.child.kill(signal));
      expect(await exitWithin(cluster.child, EXIT_LIMIT_MS)).to.deep.equal({ code: 0, signal: null });
    });

    it(`finishes logins in flight on ${signal} to the whole process group, then exits 0`, async () => {
      const cluster = await startCluster();
      await register(cluster.url);
      const primary = cluster.child.pid!;
      // Every process gets the one signal; here the workers act on it first,
      // as they may (the primary is held stopped until they drain), and the
      // primary then acts on it too.
      await expectLoginsAnsweredThrough(
        cluster,
        2,
        () => {
          process.kill(primary, 'SIGSTOP');
          process.kill(-primary, signal);
        },
        async () => {
          process.kill(primary, 'SIGCONT');
          await cluster.untilLogged(`${signal}: stopping 2 workers`);
        },
      );
      expect(await exitWithin(cluster.child, EXIT_LIMIT_MS)).to.deep.equal({ code: 0, signal: null });
    });
  }

  it('stops when SIGTERM comes while a crashed worker is waiting to be replaced', async () => {
    // The surviving worker drains for 2 s, past the primary's 1 s restart delay.
    const cluster = await startCluster({ SHUTDOWN_READINESS_DELAY_SECONDS: '2' });
    const [served] = await cluster.untilLogged('request completed');
    expect(served.pid, 'a worker answered').not.to.equal(cluster.child.pid);
    process.kill(served.pid, 'SIGKILL');
    const [crash] = await cluster.untilLogged('worker exited; starting another');
    const signalled = Date.now();
    cluster.child.kill('SIGTERM');
    expect(signalled - crash.time, 'signalled within the 1 s restart delay').to.be.below(1_000);

    expect(await exitWithin(cluster.child, EXIT_LIMIT_MS)).to.deep.equal({ code: 0, signal: null });
    expect(Date.now() - signalled, 'the drain outlasted the restart delay').to.be.at.least(2_000);
    expect(await refusesConnections(cluster.url)).to.equal(true);
  });
});
