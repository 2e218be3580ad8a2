// npm run bench: seeds a throw-away SQLite database with 100,000 users, then
// measures with autocannon on 127.0.0.1, in one run: a baseline of the same
// stack without a database (scripts/bench-baseline.ts), and the built service
// with WEB_CONCURRENCY 1 and 2 on the hot routes (and with JWT_ALGORITHM=HS256
// beside the default ES256 on the two hot reads). Prints a table (median req/s,
// p50, p99, errors, non-2xx, server CPU per request, ratio to the baseline),
// checks the targets, and writes JSON and Markdown under bench/results/.
// Numbers, not assertions: these machines are shared and noisy, so the three
// servers run side by side and every scenario is measured on each of them in
// turn, for several rounds; the table holds the medians over the rounds.
//
//
// The flood scenario, last in every round on each service: logins from one
// address, first alone, then while another address floods registrations of a
// taken email (each one argon2 hash, then 409; 503 once over its hashing
// budget). Shows whether the hashing admission keeps one address's flood from
// starving the others. Alone, in well under a minute, on 1,000 users and the
// 1-worker service: npm run bench -- --flood-only (or BENCH_FLOOD_ONLY=1);
// it writes bench/results/bench-flood-*.{json,md} and leaves latest.md alone.
//
// The database is what a user base looks like after a while: a tenth of the
// accounts ever made have been deleted (every tenth id, through the erasure
// path), so positions have gaps and BENCH_USERS users remain; requests pick
// live users only.
//
// With BENCH_POSTGRES_URL (or TEST_DATABASE_URL) naming a PostgreSQL server
// and a role that may create databases, the service is measured on a
// throw-away database there too, seeded the same way, in the same run, and
// the PostgreSQL targets are checked against SQLite.
//
// npm run bench -- --pool-sizes 1,2,4,10 measures only the service on
// PostgreSQL with each DB_POOL_MAX (bench/results/bench-pool-*).
//
// BENCH_ROUNDS (3), BENCH_SECONDS (5) per measurement, BENCH_USERS (100000;
// 1000 with --flood-only), BENCH_CONNECTIONS (32), BENCH_FLOOD_LOGINS (40 per
// phase), BENCH_FLOOD_CONNECTIONS (32).
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createPostgresDatabase, type TestDatabase } from '../test/support/database.js';
import { startServerProcess } from '../test/support/process.js';
import { SEED_PASSWORD } from './seed.js';

const ROOT = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: { 'flood-only': { type: 'boolean', default: false }, 'pool-sizes': { type: 'string' } },
});
const FLOOD_ONLY = flags['flood-only'] || process.env.BENCH_FLOOD_ONLY === '1';
const POOL_SIZES = flags['pool-sizes']?.split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const USERS = Number(process.env.BENCH_USERS ?? (FLOOD_ONLY ? 1000 : 100_000));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const PER_PAGE = 10;
const IDLE_BEFORE_SECOND_MEMORY_READING_MS = 10_000;
// A PostgreSQL server where the bench may create (and then drops) a database:
// the service is measured there too, beside SQLite.
const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_DATABASE_URL;

// The service runs as `npm start` runs it (package.json). glibc by default
// keeps a malloc arena per thread-pool thread and raises its mmap threshold
// once argon2 frees its 19 MiB, so later buffers stay resident; a fixed
// threshold returns argon2's memory after each hash instead, and huge pages
// make taking it back cheap. Measured after token checks then logins:
// arenas capped alone 159-190 MB, 24-26 logins/s; with a fixed threshold
// 115-149 MB but 15-18 logins/s (page faults); with huge pages as well
// 115-155 MB at 25-27 logins/s. Halving V8's young generation took about
// 10 MB more, at no measured cost in throughput. Under the hot reads V8 then
// let the old generation grow to about 100 MB of mostly garbage before a full
// collection (157-167 MB resident right after the load); growing it by a
// fixed half of what survives the last one (--heap-growing-percent=50) kept
// 117-121 MB, within about 4% of the req/s (medians of alternating runs).
// It is not a cap: the heap still grows with what is live.
const NPM_START_ENV = {
  GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=1',
};
const NPM_START_NODE_ARGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];

interface Sample {
  reqPerSec: number; // median of the per-second samples
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  serverCpuUsPerRequest: number; // all the server's processes
  /** PostgreSQL's processes (every backend, the server's own too); NaN for SQLite, which runs inside the server. */
  databaseCpuUsPerRequest: number;
  loadGeneratorCpuShare: number; // of one core, autocannon's own process
}

interface Row extends Sample {
  scenario: string;
  server: string;
  rounds: number;
  ratio?: number; // to the baseline's same route
}

interface Scenario {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string | (() => string);
  body?: () => unknown;
  token?: boolean;
  connections?: number;
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of a process's workers (itself when it has none), in MB, one entry each. */
function residentMb(pid: number): number[] {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024;
  const workers = childrenOf(pid);
  return workers.length > 0 ? workers.map(rss) : [rss(pid)];
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** CPU seconds used so far by each PostgreSQL process on this machine (the bench's server is local), by pid. */
function postgresCpuSeconds(): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.split(') ')[1].split(' ');
      seconds.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND);
    } catch {
      // the process ended meanwhile
    }
  }
  return seconds;
}

/**
 * PostgreSQL CPU used between two readings. A backend that ended meanwhile
 * (a pool closing an idle connection) takes its CPU with it, so only
 * processes in the second reading count: those born meanwhile with all of
 * theirs. Summing totals instead came out negative.
 */
function postgresCpuSince(before: Map<number, number>): number {
  let used = 0;
  for (const [pid, now] of postgresCpuSeconds()) used += now - (before.get(pid) ?? 0);
  return used;
}

/** CPU seconds used so far by a process and its children (cluster workers), all threads. */
function cpuSeconds(pid: number): number {
  const ticks = (p: number) => {
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime
  };
  return [pid, ...childrenOf(pid)].reduce((sum, p) => sum + ticks(p), 0) / CLOCK_TICKS_PER_SECOND;
}

function cannon(url: string, scenario: Scenario, token: string, seconds: number): Promise<autocannon.Result> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (scenario.token) headers.authorization = `Bearer ${token}`;
  return autocannon({
    url,
    connections: scenario.connections ?? CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: scenario.method,
        headers,
        setupRequest: (request) => ({
          ...request,
          path: typeof scenario.path === 'function' ? scenario.path() : scenario.path,
          ...(scenario.body ? { body: JSON.stringify(scenario.body()) } : {}),
        }),
      },
    ],
  });
}

/** Runs `load` (autocannon) and reads it with the CPU the server and the load generator used meanwhile. */
async function sampled(server: Server, load: () => Promise<autocannon.Result>): Promise<Sample> {
  const serverCpuBefore = cpuSeconds(server.pid);
  const databaseCpuBefore = server.onPostgres ? postgresCpuSeconds() : undefined;
  const ownCpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load();
  const ownCpu = process.cpuUsage(ownCpuBefore);
  const elapsedUs = (performance.now() - started) * 1000;
  return {
    reqPerSec: result.requests.p50,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors, // timeouts included
    non2xx: result.non2xx,
    requests: result.requests.total,
    serverCpuUsPerRequest: ((cpuSeconds(server.pid) - serverCpuBefore) * 1e6) / Math.max(1, result.requests.total),
    databaseCpuUsPerRequest: databaseCpuBefore
      ? (postgresCpuSince(databaseCpuBefore) * 1e6) / Math.max(1, result.requests.total)
      : Number.NaN,
    loadGeneratorCpuShare: (ownCpu.user + ownCpu.system) / elapsedUs,
  };
}

async function measure(server: Server, scenario: Scenario): Promise<Sample> {
  await cannon(server.url, scenario, server.token, 1); // warm-up, not counted
  return sampled(server, () => cannon(server.url, scenario, server.token, SECONDS));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** One row from the rounds' samples: medians, and every error and non-2xx answer summed. */
function summarize(scenario: string, server: string, samples: Sample[]): Row {
  const of = (key: keyof Sample) => samples.map((sample) => sample[key]);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    scenario,
    server,
    rounds: samples.length,
    reqPerSec: median(of('reqPerSec')),
    p50: median(of('p50')),
    p99: median(of('p99')),
    errors: sum(of('errors')),
    non2xx: sum(of('non2xx')),
    requests: sum(of('requests')),
    serverCpuUsPerRequest: median(of('serverCpuUsPerRequest')),
    databaseCpuUsPerRequest: median(of('databaseCpuUsPerRequest')),
    loadGeneratorCpuShare: median(of('loadGeneratorCpuShare')),
  };
}

interface Server {
  label: string;
  url: string;
  pid: number;
  token: string;
  /** Scenarios this server answers (the baseline: the first two). */
  scenarios: Scenario[];
  /** Whether to measure token checks while logins run beside them. */
  underLogins: boolean;
  /** Whether its database is the local PostgreSQL server, whose CPU is then counted too. */
  onPostgres: boolean;
  stop(): Promise<void>;
}

let registered = 0;
// Every tenth id is deleted before measuring; the k-th live user (from 0) has id k + floor(k / 9) + 1.
const DELETED_EVERY = 10;
const SEEDED = USERS + Math.floor(USERS / (DELETED_EVERY - 1));
const randomId = () => {
  const k = Math.floor(Math.random() * USERS);
  return k + Math.floor(k / (DELETED_EVERY - 1)) + 1;
};

/**
 * Seeds the users, then deletes every tenth one as an admin would: USERS
 * remain, with gaps. In a child process, so this one holds nothing of the
 * service (its modules, pool and timers) while it generates the load.
 */
function prepareDatabase(databaseUrl: string): void {
  execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts', 'seed.ts'),
      '--users',
      String(SEEDED),
      '--delete-every',
      String(DELETED_EVERY),
      '--database',
      databaseUrl,
    ],
    // The services below must open the signing key made here.
    { stdio: 'inherit', env: { ...process.env, JWT_SECRET: SECRET, SIGNING_KEYS_SECRET: SECRET } },
  );
}
const scenarios: Scenario[] = [
  { name: 'GET /protected', method: 'GET', path: '/protected', token: true },
  { name: 'GET /users/:id', method: 'GET', path: () => `/users/${randomId()}`, token: true },
  { name: 'GET /users/pagination (page 1)', method: 'GET', path: `/users/pagination?page=1&per_page=${PER_PAGE}` },
  {
    name: 'GET /users/pagination (last page)',
    method: 'GET',
    path: `/users/pagination?page=${Math.ceil(USERS / PER_PAGE)}&per_page=${PER_PAGE}`,
  },
  {
    name: 'POST /login',
    method: 'POST',
    path: '/login',
    body: () => ({ email: `seed.user.${randomId()}@example.com`, password: SEED_PASSWORD }),
    connections: 8,
  },
  {
    name: 'POST /users',
    method: 'POST',
    path: '/users',
    body: () => {
      registered += 1;
      const tag = `${process.pid}.${Date.now()}.${registered}`;
      return {
        email: `bench.${tag}@example.com`,
        user_name: `b.${tag}`.slice(0, 32),
        first_name: 'Bench',
        last_name: 'User',
        password: 'bench-password-1',
      };
    },
    connections: 8,
  },
  {
    name: 'PUT /users/update/:id',
    method: 'PUT',
    path: '/users/update/1',
    body: () => ({ first_name: `Bench ${Date.now() % 1000}` }),
    token: true,
  },
];

// The reads and the one write behind every request's pool use; logins and
// registrations wait on argon2, not on connections.
const POOL_SCENARIOS = scenarios.filter((s) => !['POST /login', 'POST /users'].includes(s.name));

/** A Markdown table; the columns after the first `leftColumns` are right-aligned numbers. */
function markdownTable(header: string[], leftColumns: number, rows: (string | number)[][]): string {
  const align = header.map((_, i) => (i < leftColumns ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function table(rows: Row[]): string {
  return markdownTable(
    [
      'scenario',
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'server CPU µs/req',
      'PostgreSQL CPU µs/req',
      'ratio to baseline',
    ],
    2,
    rows.map((r) => [
      r.scenario,
      r.server,
      Math.round(r.reqPerSec).toLocaleString('en'),
      r.p50,
      r.p99,
      r.errors,
      r.non2xx,
      Number.isNaN(r.serverCpuUsPerRequest) ? '' : Math.round(r.serverCpuUsPerRequest),
      Number.isNaN(r.databaseCpuUsPerRequest) ? '' : Math.round(r.databaseCpuUsPerRequest),
      r.ratio === undefined ? '' : r.ratio.toFixed(2),
    ]),
  );
}

async function startBaseline(): Promise<Server> {
  const baseline = await startServerProcess(
    { JWT_SECRET: SECRET },
    { args: ['--import', 'tsx', join(ROOT, 'scripts', 'bench-baseline.ts')], probe: '/users/pagination', quiet: true },
  );
  const jwt = (await import('jsonwebtoken')).default;
  return {
    label: 'baseline',
    url: baseline.url,
    pid: baseline.child.pid!,
    token: jwt.sign({ sub: '1' }, SECRET, { expiresIn: 3600 }), // any HS256 token with this secret
    scenarios: scenarios.slice(0, 2),
    underLogins: false,
    onPostgres: false,
    stop: () => baseline.stop(),
  };
}

interface ServiceVariant {
  /** HS256 is measured on the hot reads only, beside the default ES256. */
  algorithm?: 'ES256' | 'HS256';
  /** Named in the label when it is not the default SQLite file. */
  database?: 'PostgreSQL';
  /** PostgreSQL's hot reads through Knex instead of named prepared statements (the reads only). */
  unprepared?: boolean;
  /** DB_POOL_MAX, named in the label (the --pool-sizes run). */
  poolMax?: number;
  /** The scenarios to measure, where not the variant's usual ones. */
  only?: Scenario[];
}

/** The built service as `npm start` runs it. */
async function startService(
  databaseUrl: string,
  workers: number,
  { algorithm = 'ES256', database, unprepared = false, poolMax, only }: ServiceVariant = {},
): Promise<Server & { startupMs: number }> {
  const service = await startServerProcess(
    {
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      JWT_ALGORITHM: algorithm,
      DB_PREPARED_STATEMENTS: String(!unprepared),
      JWT_SECRET: SECRET,
      SIGNING_KEYS_SECRET: SECRET,
      REGISTRATIONS_PER_ADDRESS: '0',
      // The client address from X-Forwarded-For, for the flood scenario's two
      // addresses; autocannon sends none, so the other scenarios are as before.
      TRUST_PROXY: '1',
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      LOG_LEVEL: 'info',
      WEB_CONCURRENCY: String(workers),
      ...(poolMax === undefined ? {} : { DB_POOL_MAX: String(poolMax) }),
      ...NPM_START_ENV,
    },
    { args: [...NPM_START_NODE_ARGS, join(ROOT, 'dist', 'src', 'server.js')], probe: '/healthz', quiet: true },
  );
  const login = await fetch(`${service.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'seed.user.1@example.com', password: SEED_PASSWORD }),
  });
  const defaultAlgorithm = algorithm === 'ES256';
  const label = [
    `service, ${workers} worker${workers === 1 ? '' : 's'}`,
    defaultAlgorithm ? '' : algorithm,
    database,
    unprepared ? 'unprepared' : '',
    poolMax === undefined ? '' : `pool ${poolMax}`,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    label,
    url: service.url,
    pid: service.child.pid!,
    token: ((await login.json()) as { access_token: string }).access_token,
    scenarios:
      only ??
      (!defaultAlgorithm
        ? scenarios.slice(0, 2)
        : unprepared
          ? scenarios.slice(0, 4)
          : poolMax !== undefined
            ? POOL_SCENARIOS
            : scenarios),
    // Logins under load and the flood measure the hashing admission, which the database does not change.
    underLogins: defaultAlgorithm && !database,
    onPostgres: database === 'PostgreSQL',
    startupMs: service.startupMs,
    stop: () => service.stop(),
  };
}

/** Token checks while logins hash at full speed beside them. */
async function protectedWhileLoginsRun(server: Server): Promise<Sample> {
  await cannon(server.url, scenarios[0], server.token, 1);
  const sample = await sampled(server, async () => {
    const [result] = await Promise.all([
      cannon(server.url, { ...scenarios[0], connections: 16 }, server.token, SECONDS),
      cannon(server.url, { ...scenarios[4], connections: 16 }, server.token, SECONDS),
    ]);
    return result;
  });
  // The server's CPU went to the hashing too: per token check it means nothing.
  return { ...sample, serverCpuUsPerRequest: Number.NaN };
}

// ---- Logins under a registration flood ------------------------------------

const FLOOD_LOGINS = Number(process.env.BENCH_FLOOD_LOGINS ?? 40); // per phase
const FLOOD_LOGIN_CONCURRENCY = 2;
const FLOOD_CONNECTIONS = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 32);
const FLOOD_HEAD_START_MS = 1000; // the flood fills its queue before the logins start
const FLOOD_MAX_MS = 30_000; // hard cap on the flood, and on starting logins in either phase
const FLOOD_MAX_REQUESTS = 100_000;
const REQUEST_TIMEOUT_MS = 30_000;
const USER_ADDRESS = '203.0.113.10';
const FLOODER_ADDRESS = '198.51.100.99';
// A seeded account's email: each registration hashes its password, then finds the email taken (409).
const FLOOD_BODY = JSON.stringify({
  email: 'seed.user.1@example.com',
  user_name: 'flood.user',
  first_name: 'Flood',
  last_name: 'User',
  password: 'flood-Pa55word-7c1e9a',
});

interface FloodSample {
  quietMs: number[];
  floodedMs: number[];
  /** Logins that did not answer 200, by status ("error": no answer). */
  loginFailures: Record<string, number>;
  /** The flood's answers by status ("error": no answer). */
  floodStatuses: Record<string, number>;
  floodSeconds: number;
}

interface FloodRow {
  server: string;
  rounds: number;
  quietLogins: number; // answered 200, over all rounds
  floodedLogins: number;
  quietP50: number;
  quietP95: number;
  floodedP50: number;
  floodedP95: number;
  p95Ratio: number;
  flood409: number;
  flood503: number;
  floodOther: number;
  floodPerSec: number;
  loginFailures: number;
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
async function loginsUnderFlood(server: Server): Promise<FloodSample> {
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

/** Nearest-rank percentile. */
const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** One row from the rounds: percentiles over all their logins, the flood's answers summed. */
function summarizeFlood(server: string, samples: FloodSample[]): FloodRow {
  const quiet = samples.flatMap((s) => s.quietMs);
  const flooded = samples.flatMap((s) => s.floodedMs);
  const statuses: Record<string, number> = {};
  for (const sample of samples)
    for (const [status, n] of Object.entries(sample.floodStatuses)) statuses[status] = (statuses[status] ?? 0) + n;
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const flood409 = statuses['409'] ?? 0;
  const flood503 = statuses['503'] ?? 0;
  return {
    server,
    rounds: samples.length,
    quietLogins: quiet.length,
    floodedLogins: flooded.length,
    quietP50: percentile(quiet, 50),
    quietP95: percentile(quiet, 95),
    floodedP50: percentile(flooded, 50),
    floodedP95: percentile(flooded, 95),
    p95Ratio: percentile(flooded, 95) / percentile(quiet, 95),
    flood409,
    flood503,
    floodOther: answered - flood409 - flood503,
    floodPerSec: answered / samples.reduce((sum, s) => sum + s.floodSeconds, 0),
    loginFailures: samples.reduce((sum, s) => sum + Object.values(s.loginFailures).reduce((a, b) => a + b, 0), 0),
  };
}

function floodTable(rows: FloodRow[]): string {
  return markdownTable(
    [
      'server',
      'logins quiet/under flood',
      'quiet p50 ms',
      'quiet p95 ms',
      'under flood p50 ms',
      'under flood p95 ms',
      'p95 ratio',
      'flood 409',
      'flood 503',
      'flood other',
      'flood req/s',
      'failed logins',
    ],
    1,
    rows.map((r) => [
      r.server,
      `${r.quietLogins}/${r.floodedLogins}`,
      Math.round(r.quietP50),
      Math.round(r.quietP95),
      Math.round(r.floodedP50),
      Math.round(r.floodedP95),
      r.p95Ratio.toFixed(2),
      r.flood409,
      r.flood503,
      r.floodOther,
      Math.round(r.floodPerSec).toLocaleString('en'),
      r.loginFailures,
    ]),
  );
}

function floodSection(rows: FloodRow[]): string[] {
  return [
    '## Logins under a registration flood',
    '',
    `In each round, on each service: ${FLOOD_LOGINS} logins of seeded users from ${USER_ADDRESS}, ${FLOOD_LOGIN_CONCURRENCY} at a time, alone ("quiet"); then`,
    `${FLOOD_LOGINS} more while ${FLOODER_ADDRESS} keeps ${FLOOD_CONNECTIONS} registrations of a taken email in flight (each one argon2 hash, then 409;`,
    `503 once over its hashing budget), started ${FLOOD_HEAD_START_MS / 1000} s ahead and stopped when the logins are done (at most`,
    `${FLOOD_MAX_MS / 1000} s). Addresses by X-Forwarded-For (TRUST_PROXY=1). Latency percentiles over all rounds' successful logins (nearest rank);`,
    'flood answers summed over the rounds.',
    '',
    floodTable(rows),
    '',
  ];
}

function logFloodSample(server: Server, sample: FloodSample): void {
  const row = summarizeFlood(server.label, [sample]);
  console.log(
    `  logins under a flood, ${server.label}: quiet p50/p95 ${Math.round(row.quietP50)}/${Math.round(row.quietP95)} ms, ` +
      `under flood ${Math.round(row.floodedP50)}/${Math.round(row.floodedP95)} ms; flood ${JSON.stringify(sample.floodStatuses)} at ${Math.round(row.floodPerSec)} req/s` +
      (row.loginFailures ? `; failed logins ${JSON.stringify(sample.loginFailures)}` : ''),
  );
}

/** --flood-only: the 1-worker service on a small database, the flood scenario alone. */
async function floodOnly(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const databaseUrl = `sqlite:${join(work, 'users.sqlite')}`;
  const samples: FloodSample[] = [];
  let server: Server | undefined;
  const label = 'service, 1 worker';
  try {
    prepareDatabase(databaseUrl);
    console.log(`Starting the service with WEB_CONCURRENCY 1`);
    server = await startService(databaseUrl, 1);
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      const sample = await loginsUnderFlood(server);
      samples.push(sample);
      logFloodSample(server, sample);
    }
  } finally {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rows = [summarizeFlood(label, samples)];
  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark (flood scenario only), ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on SQLite, ${cpus().length} cores, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, the client on 127.0.0.1 in the same machine.`,
    '',
    ...floodSection(rows),
  ].join('\n');
  writeResults('bench-flood', when, { flood: floodResults(rows, { [label]: samples }) }, markdown);
}

/**
 * npm run bench -- --pool-sizes 1,2,4,10: the service on PostgreSQL with each
 * DB_POOL_MAX, with 1 and 2 workers, side by side in the same rounds; for the
 * README's pool size. The smallest pool within 5% of the best is the one to use.
 */
async function poolSizes(sizes: number[]): Promise<void> {
  if (!POSTGRES_ADMIN_URL || sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    console.error('Usage: BENCH_POSTGRES_URL=postgres://… npm run bench -- --pool-sizes 1,2,4,10');
    process.exit(2);
  }
  const postgres = await createPostgresDatabase(POSTGRES_ADMIN_URL);
  const book = new SampleBook();
  const servers: Server[] = [];
  try {
    prepareDatabase(postgres.url);
    for (const workers of [1, 2])
      for (const poolMax of sizes)
        servers.push(await startService(postgres.url, workers, { database: 'PostgreSQL', poolMax }));
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      await measureRound(servers, POOL_SCENARIOS, book);
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await postgres.drop();
  }
  const rows = servers.flatMap((server) => POOL_SCENARIOS.map((scenario) => book.row(scenario.name, server.label)));
  const choices = [1, 2].flatMap((workers) =>
    POOL_SCENARIOS.map((scenario) => {
      const measured = sizes.map((size) => ({
        size,
        reqPerSec: rows.find(
          (row) =>
            row.scenario === scenario.name &&
            row.server.startsWith(`service, ${workers} worker`) &&
            row.server.endsWith(`pool ${size}`),
        )!.reqPerSec,
      }));
      const best = Math.max(...measured.map((m) => m.reqPerSec));
      const smallest = measured.filter((m) => m.reqPerSec >= 0.95 * best).sort((a, b) => a.size - b.size)[0];
      return `- ${workers} worker${workers === 1 ? '' : 's'}, ${scenario.name}: ${measured.map((m) => `pool ${m.size} ${Math.round(m.reqPerSec).toLocaleString('en')}`).join(', ')} req/s; smallest within 5% of the best: ${smallest.size}`;
    }),
  );
  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark (PostgreSQL pool sizes), ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on PostgreSQL (a local server, on the same ${cpus().length} cores), DB_POOL_MAX ${sizes.join(', ')} per process, with 1 and 2 workers. Medians of ${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections.`,
    '',
    table(rows),
    '',
    '## Pool size',
    ...choices,
    '',
  ].join('\n');
  writeResults(
    'bench-pool',
    when,
    { seconds: SECONDS, sizes, rows, samples: Object.fromEntries(book.samples) },
    markdown,
  );
}

function floodResults(rows: FloodRow[], samples: Record<string, FloodSample[]>) {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    logins: FLOOD_LOGINS,
    loginConcurrency: FLOOD_LOGIN_CONCURRENCY,
    connections: FLOOD_CONNECTIONS,
    headStartMs: FLOOD_HEAD_START_MS,
    rows,
    samples: Object.fromEntries(
      Object.entries(samples).map(([label, list]) => [
        label,
        list.map((s) => ({
          ...s,
          quietMs: s.quietMs.map(round),
          floodedMs: s.floodedMs.map(round),
          floodSeconds: round(s.floodSeconds),
        })),
      ]),
    ),
  };
}

/** The samples of every round, by "scenario|server". */
class SampleBook {
  readonly samples = new Map<string, Sample[]>();

  record(scenario: string, server: string, sample: Sample): void {
    const key = `${scenario}|${server}`;
    this.samples.set(key, [...(this.samples.get(key) ?? []), sample]);
  }

  /** One row of medians per scenario a server answered. */
  row(scenario: string, server: string): Row {
    return summarize(scenario, server, this.samples.get(`${scenario}|${server}`)!);
  }
}

/** One round: each scenario on each server that answers it, in turn. */
async function measureRound(servers: Server[], list: Scenario[], book: SampleBook): Promise<void> {
  for (const scenario of list) {
    for (const server of servers.filter((s) => s.scenarios.includes(scenario))) {
      const sample = await measure(server, scenario);
      book.record(scenario.name, server.label, sample);
      console.log(
        `  ${scenario.name}, ${server.label}: ${Math.round(sample.reqPerSec)} req/s, p99 ${sample.p99} ms, non-2xx ${sample.non2xx}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const databaseUrl = `sqlite:${join(work, 'users.sqlite')}`;
  const notes: Record<string, unknown> = {};
  const book = new SampleBook();
  const floodSamples: Record<string, FloodSample[]> = {}; // by server
  const servers: Server[] = [];
  let postgres: TestDatabase | undefined;
  try {
    prepareDatabase(databaseUrl);

    console.log(
      'Starting the baseline (Express + validator + JWT check, no database), the service with WEB_CONCURRENCY 1 and 2, and with 1 and HS256',
    );
    servers.push(await startBaseline());
    for (const workers of [1, 2]) {
      const service = await startService(databaseUrl, workers);
      notes[`startupMs_${workers}`] = service.startupMs;
      servers.push(service);
    }
    servers.push(await startService(databaseUrl, 1, { algorithm: 'HS256' }));
    if (POSTGRES_ADMIN_URL) {
      postgres = await createPostgresDatabase(POSTGRES_ADMIN_URL);
      console.log(`On PostgreSQL (${new URL(postgres.url).host}):`);
      prepareDatabase(postgres.url);
      servers.push(await startService(postgres.url, 1, { database: 'PostgreSQL' }));
      servers.push(await startService(postgres.url, 1, { database: 'PostgreSQL', unprepared: true }));
      // With two workers the service's processes and PostgreSQL compete for the same cores.
      servers.push(await startService(postgres.url, 2, { database: 'PostgreSQL', only: scenarios.slice(0, 4) }));
    }

    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      await measureRound(servers, scenarios, book);
      for (const server of servers.filter((s) => s.underLogins)) {
        const sample = await protectedWhileLoginsRun(server);
        book.record('GET /protected while logins run', server.label, sample);
        console.log(`  GET /protected while logins run, ${server.label}: p99 ${sample.p99} ms`);
      }
      for (const server of servers.filter((s) => s.underLogins)) {
        const sample = await loginsUnderFlood(server);
        (floodSamples[server.label] ??= []).push(sample);
        logFloodSample(server, sample);
      }
    }
    const services = servers.filter((s) => s.underLogins);
    const resident = (key: string) => {
      for (const server of services)
        notes[`${key}_${server.label.split(' ')[1]}`] = residentMb(server.pid).map((mb) => Math.round(mb));
    };
    resident('residentMbPerWorker');
    // Right after the load, V8's heap still holds the garbage of the last
    // seconds; after a pause its memory reducer has run, as between bursts.
    await sleep(IDLE_BEFORE_SECOND_MEMORY_READING_MS);
    resident('residentMbPerWorkerAfterIdle');
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(work, { recursive: true, force: true });
    await postgres?.drop();
  }

  const rows: Row[] = [];
  for (const server of servers) {
    for (const name of [
      ...server.scenarios.map((s) => s.name),
      ...(server.underLogins ? ['GET /protected while logins run'] : []),
    ]) {
      rows.push(book.row(name, server.label));
    }
  }
  for (const row of rows) {
    const base = rows.find((r) => r.server === 'baseline' && r.scenario === row.scenario);
    if (base && row !== base) row.ratio = row.reqPerSec / base.reqPerSec;
  }
  const loadGeneratorShare = median(rows.map((r) => r.loadGeneratorCpuShare));
  const floodRows = Object.entries(floodSamples).map(([label, list]) => summarizeFlood(label, list));

  const find = (scenario: string, server: string) => rows.find((r) => r.scenario === scenario && r.server === server)!;
  const one = 'service, 1 worker';
  const two = 'service, 2 workers';
  const sharedSecret = 'service, 1 worker, HS256';
  const residentOne = notes.residentMbPerWorker_1 as number[];
  const residentTwo = notes.residentMbPerWorker_2 as number[];
  const onPostgres = 'service, 1 worker, PostgreSQL';
  const twoOnPostgres = 'service, 2 workers, PostgreSQL';
  const postgresTargets = postgres
    ? ([
        ...(['GET /protected', 'GET /users/:id'] as const).map(
          (scenario) =>
            [
              `${scenario} on PostgreSQL ≥ 0.8 of SQLite (1 worker)`,
              find(scenario, onPostgres).reqPerSec / find(scenario, one).reqPerSec,
              0.8,
              '≥',
            ] as const,
        ),
        [
          'last page costs ≤ 2× page 1 on PostgreSQL (req/s ratio, 1 worker)',
          find('GET /users/pagination (page 1)', onPostgres).reqPerSec /
            find('GET /users/pagination (last page)', onPostgres).reqPerSec,
          2,
          '≤',
        ] as const,
      ] as const)
    : [];
  const targets = [
    ['GET /protected ≥ 1.0 of baseline (1 worker)', find('GET /protected', one).ratio!, 1.0, '≥'],
    ['GET /users/:id ≥ 0.9 of baseline (1 worker)', find('GET /users/:id', one).ratio!, 0.9, '≥'],
    [
      'GET /protected with ES256 (the default) ≥ 0.9 of HS256 (1 worker)',
      find('GET /protected', one).reqPerSec / find('GET /protected', sharedSecret).reqPerSec,
      0.9,
      '≥',
    ],
    [
      '2 workers ≥ 1.6× 1 worker, GET /protected',
      find('GET /protected', two).reqPerSec / find('GET /protected', one).reqPerSec,
      1.6,
      '≥',
    ],
    [
      '2 workers ≥ 1.6× 1 worker, GET /users/:id',
      find('GET /users/:id', two).reqPerSec / find('GET /users/:id', one).reqPerSec,
      1.6,
      '≥',
    ],
    [
      'last page costs ≤ 2× page 1 (req/s ratio, 1 worker)',
      find('GET /users/pagination (page 1)', one).reqPerSec / find('GET /users/pagination (last page)', one).reqPerSec,
      2,
      '≤',
    ],
    [
      'GET /protected p99 under 50 ms while logins run (1 worker)',
      find('GET /protected while logins run', one).p99,
      50,
      '<',
    ],
    ...postgresTargets,
    ['resident memory per worker under 150 MB', Math.max(...residentOne, ...residentTwo), 150, '<'],
    [
      'start-up to first answer under 1.5 s on an existing database (1 worker)',
      (notes.startupMs_1 as number) / 1000,
      1.5,
      '<',
    ],
  ] as const;
  // What two workers could reach at most on this machine: the cores the load
  // generator leaves, at one worker's CPU cost per request.
  const ceilings = ['GET /protected', 'GET /users/:id'].map((scenario) => {
    const single = find(scenario, one);
    const ceiling = (cpus().length - find(scenario, two).loadGeneratorCpuShare) / (single.serverCpuUsPerRequest / 1e6);
    return `${scenario} ${Math.round(ceiling).toLocaleString('en')} req/s (${(ceiling / single.reqPerSec).toFixed(2)}× one worker)`;
  });
  const targetLines = targets.map(([name, value, bound, op]) => {
    const met = op === '≥' ? value >= bound : op === '≤' ? value <= bound : value < bound;
    return `- ${met ? 'met' : 'NOT met'}: ${name}: ${Number(value).toFixed(2)}`;
  });

  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark, ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on SQLite${postgres ? ' and on PostgreSQL (a local server, on the same cores)' : ''} (of ${SEEDED.toLocaleString('en')} made, every ${DELETED_EVERY}th deleted), ${cpus().length} cores. Medians of ${ROUNDS} rounds; in each`,
    `round every scenario ran on each server in turn, ${SECONDS} s after a 1 s warm-up, with ${CONNECTIONS} connections (8 for logins`,
    `and registrations), autocannon on 127.0.0.1 in the same machine, where it used ${Math.round(loadGeneratorShare * 100)}% of a core (median).`,
    'Errors and non-2xx answers are summed over the rounds. Server CPU counts all of its processes and threads.',
    '',
    table(rows),
    '',
    `Start-up to first answer on the seeded database: ${String(notes.startupMs_1)} ms (1 worker), ${String(notes.startupMs_2)} ms (2 workers).`,
    `Resident memory per worker right after the run: ${residentOne.join(', ')} MB (1 worker); ${residentTwo.join(', ')} MB (2 workers);`,
    `${IDLE_BEFORE_SECOND_MEMORY_READING_MS / 1000} s later: ${(notes.residentMbPerWorkerAfterIdle_1 as number[]).join(', ')} MB (1 worker); ${(notes.residentMbPerWorkerAfterIdle_2 as number[]).join(', ')} MB (2 workers).`,
    `Estimated most that two workers can serve here (the cores autocannon leaves, at one worker's CPU per request): ${ceilings.join('; ')}.`,
    ...(postgres
      ? [
          `What one PostgreSQL core serves (1 s of its CPU ÷ its CPU per request, 1 worker): ${rows
            .filter((row) => row.server === onPostgres && !Number.isNaN(row.databaseCpuUsPerRequest))
            .map((row) => `${row.scenario} ${Math.round(1e6 / row.databaseCpuUsPerRequest).toLocaleString('en')} req/s`)
            .join('; ')}.`,
          `PostgreSQL ÷ SQLite with 2 workers, where PostgreSQL and the workers share the cores: ${[
            'GET /protected',
            'GET /users/:id',
          ]
            .map(
              (scenario) =>
                `${scenario} ${(find(scenario, twoOnPostgres).reqPerSec / find(scenario, two).reqPerSec).toFixed(2)}`,
            )
            .join('; ')}.`,
        ]
      : []),
    '',
    ...floodSection(floodRows),
    '## Targets',
    ...targetLines,
    '',
  ].join('\n');
  writeResults(
    'bench',
    when,
    {
      seconds: SECONDS,
      rows,
      samples: Object.fromEntries(book.samples),
      notes,
      flood: floodResults(floodRows, floodSamples),
    },
    markdown,
    { latest: true },
  );
}

/** Prints the Markdown and writes it with the JSON to bench/results/NAME-STAMP.{json,md} (and latest.md). */
function writeResults(name: string, when: string, data: object, markdown: string, { latest = false } = {}): void {
  console.log('\n' + markdown);
  const folder = join(ROOT, 'bench', 'results');
  mkdirSync(folder, { recursive: true });
  const file = `${name}-${when.replace(/[:.]/g, '-')}`;
  const run = { when, node: process.version, cores: cpus().length, users: USERS, rounds: ROUNDS, ...data };
  writeFileSync(join(folder, `${file}.json`), JSON.stringify(run, null, 2));
  writeFileSync(join(folder, `${file}.md`), markdown);
  if (latest) writeFileSync(join(folder, 'latest.md'), markdown);
  console.log(`Written to bench/results/${file}.{json,md}${latest ? ' and bench/results/latest.md' : ''}`);
}

await (FLOOD_ONLY ? floodOnly() : POOL_SIZES ? poolSizes(POOL_SIZES) : main());
