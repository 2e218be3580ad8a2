// The flood scenario, last in every round on each service: logins from one
// address, first alone, then while another address floods registrations of a
// taken email (each one argon2 hash, then 409; 503 once over its hashing
// budget). Shows whether the hashing admission keeps one address's flood from
// starving the others. Its samples are latencies and answers, not
// autocannon's, so it has a section of the report to itself (flood-report.ts).
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { SEED_PASSWORD } from '../../seed.js';
import { randomId } from '../database.js';
import { FLOOD_CONNECTIONS, FLOOD_LOGINS } from '../options.js';
import type { Server } from '../types.js';

export const FLOOD_ID = 'flood';
export const FLOOD_LOGIN_CONCURRENCY = 2;
export const FLOOD_HEAD_START_MS = 1000; // the flood fills its queue before the logins start
export const FLOOD_MAX_MS = 30_000; // hard cap on the flood, and on starting logins in either phase
const FLOOD_MAX_REQUESTS = 100_000;
const REQUEST_TIMEOUT_MS = 30_000;
export const USER_ADDRESS = '203.0.113.10';
export const FLOODER_ADDRESS = '198.51.100.99';
// A seeded account's email: each registration hashes its password, then finds the email taken (409).
const FLOOD_BODY = JSON.stringify({
  email: 'seed.user.1@example.com',
  user_name: 'flood.user',
  first_name: 'Flood',
  last_name: 'User',
  password: 'flood-Pa55word-7c1e9a',
});

export interface FloodSample {
  quietMs: number[];
  floodedMs: number[];
  /** Logins that did not answer 200, by status ("error": no answer). */
  loginFailures: Record<string, number>;
  /** The flood's answers by status ("error": no answer). */
  floodStatuses: Record<string, number>;
  floodSeconds: number;
}

/** POSTs a JSON body on 127.0.0.1 and reads the whole answer; "error" when none came. */
function post(
  url: string,
  path: string,
  body: string,
  address: string,
  agent: Agent,
): Promise<{ status: number | 'error'; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number | 'error') => resolve({ status, ms: performance.now() - started });
    const req = request(
      url + path,
      {
        method: 'POST',
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-forwarded-for': address,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 'error'));
        res.on('error', () => done('error'));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => done('error'));
    req.end(body);
  });
}

const tally = (counts: Record<string, number>, key: number | string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * `count` logins of seeded users from USER_ADDRESS, `FLOOD_LOGIN_CONCURRENCY`
 * at a time, none started after `deadline` (performance.now()): the latencies of the 200s.
 */
async function timedLogins(
  url: string,
  count: number,
  agent: Agent,
  failures: Record<string, number>,
  deadline = performance.now() + FLOOD_MAX_MS,
): Promise<number[]> {
  const latencies: number[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count && performance.now() < deadline) {
      started += 1;
      const body = JSON.stringify({ email: `seed.user.${randomId()}@example.com`, password: SEED_PASSWORD });
      const { status, ms } = await post(url, '/login', body, USER_ADDRESS, agent);
      if (status === 200) latencies.push(ms);
      else tally(failures, status);
    }
  };
  await Promise.all(Array.from({ length: FLOOD_LOGIN_CONCURRENCY }, worker));
  return latencies;
}

/** Registrations from FLOODER_ADDRESS, FLOOD_CONNECTIONS in flight, until stopped (it then waits for the answers), the cap in time or in count. */
function startFlood(
  url: string,
  agent: Agent,
): { stop(): Promise<{ statuses: Record<string, number>; seconds: number }> } {
  const statuses: Record<string, number> = {};
  const started = performance.now();
  let sent = 0;
  let stopped = false;
  const cap = setTimeout(() => (stopped = true), FLOOD_MAX_MS);
  const worker = async () => {
    while (!stopped && sent < FLOOD_MAX_REQUESTS) {
      sent += 1;
      tally(statuses, (await post(url, '/users', FLOOD_BODY, FLOODER_ADDRESS, agent)).status);
    }
  };
  const workers = Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, worker));
  return {
    async stop() {
      stopped = true;
      await workers; // every registration answered: nothing of the flood is left in the server's queue
      clearTimeout(cap);
      return { statuses, seconds: (performance.now() - started) / 1000 };
    },
  };
}

/** Logins alone, then the same number while the flood runs. */
export async function loginsUnderFlood(server: Server): Promise<FloodSample> {
  const loginAgent = new Agent({ keepAlive: true, maxSockets: FLOOD_LOGIN_CONCURRENCY });
  const floodAgent = new Agent({ keepAlive: true, maxSockets: FLOOD_CONNECTIONS });
  try {
    const loginFailures: Record<string, number> = {};
    await timedLogins(server.url, 4, loginAgent, {}); // warm-up, not counted
    const quietMs = await timedLogins(server.url, FLOOD_LOGINS, loginAgent, loginFailures);
    const flood = startFlood(server.url, floodAgent);
    const floodDeadline = performance.now() + FLOOD_MAX_MS;
    let floodedMs: number[];
    try {
      await sleep(FLOOD_HEAD_START_MS);
      floodedMs = await timedLogins(server.url, FLOOD_LOGINS, loginAgent, loginFailures, floodDeadline);
    } catch (error) {
      await flood.stop();
      throw error;
    }
    const { statuses, seconds } = await flood.stop();
    return { quietMs, floodedMs, loginFailures, floodStatuses: statuses, floodSeconds: seconds };
  } finally {
    loginAgent.destroy();
    floodAgent.destroy();
  }
}
