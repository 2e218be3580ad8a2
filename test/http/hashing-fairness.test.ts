// A login flood from a set of client addresses, each inside every per-address
// limit, against the service as a real process (one worker, then two): the
// password-hashing queue is served by address in turn, so a fresh address is
// answered after about one hash per address with work waiting, not behind
// the flood and not refused.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { TEST_SECRET } from '../support/server.js';

const ATTACKER_ADDRESSES = 25;
const IN_FLIGHT_PER_ADDRESS = 20; // 500 logins waiting at any time
const HONEST_LOGINS = 5;
/**
 * Each honest login must answer 200 within this. Served in turn, it waits for
 * about one hash per address with work waiting: 26 × ~30 ms ≈ 0.8 s (twice
 * that on a loaded machine). Served in arrival order it would wait out the
 * flood's whole budget (PASSWORD_HASH_QUEUE_SECONDS below, 5 s), if it were
 * let in at all.
 */
const HONEST_LOGIN_BOUND_MS = 3_000;

async function post(url: string, body: unknown, address: string) {
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

for (const workers of [1, 2]) {
  describe(`the hashing queue under a login flood, ${workers} worker${workers > 1 ? 's' : ''}`, function () {
    this.timeout(120_000);
    let database: TestDatabase;
    let server: ServerProcess;

    before(async () => {
      database = await createTestDatabase();
      server = await startServerProcess(
        {
          DATABASE_URL: database.url,
          JWT_SECRET: TEST_SECRET,
          SIGNING_KEYS_SECRET: TEST_SECRET,
          WEB_CONCURRENCY: String(workers),
          TRUST_PROXY: '1',
          REGISTRATIONS_PER_ADDRESS: '0',
          // The flood stays inside the login limits, however long it runs.
          LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
          LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '0',
          PASSWORD_HASH_CONCURRENCY: '1',
          PASSWORD_HASH_QUEUE_SECONDS: '5',
          PASSWORD_HASH_QUEUE_SECONDS_PER_ADDRESS: '3',
          SHUTDOWN_GRACE_SECONDS: '1', // the flood's waiting logins need not finish
          LOG_LEVEL: 'error',
        },
        { quiet: true },
      );
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
    });

    it(`answers ${HONEST_LOGINS} honest logins from a fresh address, each within ${HONEST_LOGIN_BOUND_MS / 1000} s`, async () => {
      const honest = { email: 'honest@example.com', password: 'an-honest-long-password' };
      const registered = await fetch(`${server.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...honest, user_name: 'honest', first_name: 'H', last_name: 'O' }),
      });
      expect(registered.status).to.equal(201);

      // Wrong passwords for emails nobody has, a new one each time, so no
      // email limit is reached. Refused with 503, a slot tries again after
      // 100 ms, so the flood keeps the queue full; any other refusal ends it.
      let flooding = true;
      const refusedBusy: number[] = [];
      const statuses = new Map<number, number>();
      let sent = 0;
      const slot = async (address: string) => {
        while (flooding) {
          sent += 1;
          const body = { email: `nobody-${sent}@example.com`, password: 'a-wrong-guess' };
          const status = await post(server.url, body, address).catch(() => 0);
          if (!flooding) return;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 503) {
            refusedBusy.push(Date.now());
            await sleep(100);
          } else if (status !== 401) return;
        }
      };
      const flood = Array.from({ length: ATTACKER_ADDRESSES * IN_FLIGHT_PER_ADDRESS }, (_, i) =>
        slot(`198.51.100.${i % ATTACKER_ADDRESSES}`),
      );
      try {
        // The premise: the flood has filled the hashing budget (it is being refused).
        const deadline = Date.now() + 30_000;
        while (refusedBusy.length < 50 && Date.now() < deadline) await sleep(20);
        expect(refusedBusy.length, 'the flood never filled the hashing budget').to.be.at.least(50);

        const latencies: number[] = [];
        const honestStatuses: number[] = [];
        const honestStarted = Date.now();
        for (let i = 0; i < HONEST_LOGINS; i += 1) {
          const started = performance.now();
          honestStatuses.push(await post(server.url, honest, '203.0.113.77'));
          latencies.push(Math.round(performance.now() - started));
        }
        const honestEnded = Date.now();
        // The premise held throughout: the flood was still being refused while the honest logins ran.
        const refusedMeanwhile = refusedBusy.filter((at) => at >= honestStarted && at <= honestEnded).length;
        expect(refusedMeanwhile, 'the flood did not keep the budget full').to.be.greaterThan(0);
        const report = `honest: ${honestStatuses.join(', ')} in ${latencies.join(', ')} ms; flood: ${JSON.stringify(Object.fromEntries(statuses))}`;
        expect(honestStatuses, report).to.deep.equal(Array(HONEST_LOGINS).fill(200));
        for (const latency of latencies) expect(latency, report).to.be.below(HONEST_LOGIN_BOUND_MS);
        expect([...statuses.keys()].filter((status) => status !== 401 && status !== 503), report).to.deep.equal([]);
      } finally {
        flooding = false;
        await server.stop(); // the waiting logins end with the process
        await Promise.all(flood);
      }
    });
  });
}
