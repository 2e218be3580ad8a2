// npm run bench: seeds a throw-away SQLite database with 100,000 users, then
// measures with autocannon on 127.0.0.1, in one run: a baseline of the same
// stack without a database (scripts/bench-baseline.ts), and the built service
// with WEB_CONCURRENCY 1 and 2 on the hot routes. Prints a table (median req/s,
// p50, p99, errors, non-2xx, ratio to the baseline), checks the targets, and
// writes JSON and Markdown under bench/results/. Numbers, not assertions:
// these machines are shared and noisy, so compare ratios from one run.
//
// BENCH_SECONDS (5) per measurement, BENCH_USERS (100000), BENCH_CONNECTIONS (32).
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from '../test/support/process.js';
import { SEED_PASSWORD, seedUsers } from './seed.js';

const ROOT = join(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const PER_PAGE = 10;

interface Row {
  scenario: string;
  server: string;
  reqPerSec: number; // median of the per-second samples
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
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

/** Resident memory of a process and its children (cluster workers), in MB, one entry each. */
function residentMb(pid: number): number[] {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024;
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    children = [];
  }
  return children.length > 0 ? children.map(rss) : [rss(pid)];
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

async function measure(server: string, url: string, scenario: Scenario, token: string): Promise<Row> {
  await cannon(url, scenario, token, 1); // warm-up, not counted
  const result = await cannon(url, scenario, token, SECONDS);
  return toRow(scenario.name, server, result);
}

function toRow(scenario: string, server: string, result: autocannon.Result): Row {
  return {
    scenario,
    server,
    reqPerSec: result.requests.p50,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

let registered = 0;
const randomId = () => 1 + Math.floor(Math.random() * USERS);
const scenarios: Scenario[] = [
  { name: 'GET /protected', method: 'GET', path: '/protected', token: true },
  { name: 'GET /users/:id', method: 'GET', path: () => `/users/${randomId()}`, token: true },
  { name: 'GET /users/pagination (page 1)', method: 'GET', path: `/users/pagination?page=1&per_page=${PER_PAGE}` },
  { name: 'GET /users/pagination (last page)', method: 'GET', path: `/users/pagination?page=${Math.ceil(USERS / PER_PAGE)}&per_page=${PER_PAGE}` },
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
      return { email: `bench.${tag}@example.com`, user_name: `b.${tag}`.slice(0, 32), first_name: 'Bench', last_name: 'User', password: 'bench-password-1' };
    },
    connections: 8,
  },
  { name: 'PUT /users/update/:id', method: 'PUT', path: '/users/update/1', body: () => ({ first_name: `Bench ${Date.now() % 1000}` }), token: true },
];

function table(rows: Row[]): string {
  const lines = [
    '| scenario | server | req/s (median) | p50 ms | p99 ms | errors | non-2xx | ratio to baseline |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.server} | ${Math.round(r.reqPerSec).toLocaleString('en')} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.ratio === undefined ? '' : r.ratio.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const databaseUrl = `sqlite:${join(work, 'users.sqlite')}`;
  const rows: Row[] = [];
  const notes: Record<string, unknown> = {};
  try {
    console.log(`Seeding ${USERS.toLocaleString('en')} users…`);
    await seedUsers(databaseUrl, USERS);

    console.log('Baseline: Express + validator + JWT check, no database');
    const baseline = await startServerProcess(
      { JWT_SECRET: SECRET },
      { args: ['--import', 'tsx', join(ROOT, 'scripts', 'bench-baseline.ts')], probe: '/users/pagination', quiet: true },
    );
    // A token the baseline accepts: any HS256 token with this secret.
    const jwt = (await import('jsonwebtoken')).default;
    const baselineToken = jwt.sign({ sub: '1' }, SECRET, { expiresIn: 3600 });
    const baselineRows = new Map<string, Row>();
    for (const scenario of scenarios.slice(0, 2)) {
      const row = await measure('baseline', baseline.url, scenario, baselineToken);
      baselineRows.set(scenario.name, row);
      rows.push(row);
      console.log(`  ${scenario.name}: ${Math.round(row.reqPerSec)} req/s`);
    }
    await baseline.stop();

    const serviceEnv = {
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: SECRET,
      REGISTRATIONS_PER_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      LOG_LEVEL: 'info',
      // As npm start sets it: glibc otherwise keeps a malloc arena per
      // thread-pool thread, each holding argon2's 19 MiB after a hash.
      MALLOC_ARENA_MAX: '2',
    };
    for (const workers of [1, 2]) {
      const label = `service, ${workers} worker${workers === 1 ? '' : 's'}`;
      console.log(`Service with WEB_CONCURRENCY=${workers}`);
      const service = await startServerProcess(
        { ...serviceEnv, WEB_CONCURRENCY: String(workers) },
        { built: true, probe: '/healthz', quiet: true },
      );
      notes[`startupMs_${workers}`] = service.startupMs;
      const login = await fetch(`${service.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'seed.user.1@example.com', password: SEED_PASSWORD }),
      });
      const token = ((await login.json()) as { access_token: string }).access_token;
      for (const scenario of scenarios) {
        const row = await measure(label, service.url, scenario, token);
        const base = baselineRows.get(scenario.name);
        if (base) row.ratio = row.reqPerSec / base.reqPerSec;
        rows.push(row);
        console.log(`  ${scenario.name}: ${Math.round(row.reqPerSec)} req/s, p99 ${row.p99} ms, non-2xx ${row.non2xx}`);
      }
      // Token checks while logins hash at full speed beside them.
      await cannon(service.url, scenarios[0]!, token, 1);
      const [protectedUnderLoad] = await Promise.all([
        cannon(service.url, { ...scenarios[0]!, connections: 16 }, token, SECONDS),
        cannon(service.url, { ...scenarios[4]!, connections: 16 }, token, SECONDS),
      ]);
      const underLoad = toRow('GET /protected while logins run', label, protectedUnderLoad);
      rows.push(underLoad);
      console.log(`  GET /protected while logins run: p99 ${underLoad.p99} ms`);
      notes[`residentMbPerWorker_${workers}`] = residentMb(service.child.pid!).map((mb) => Math.round(mb));
      await service.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const find = (scenario: string, server: string) => rows.find((r) => r.scenario === scenario && r.server === server)!;
  const one = 'service, 1 worker';
  const two = 'service, 2 workers';
  const residentOne = notes.residentMbPerWorker_1 as number[];
  const residentTwo = notes.residentMbPerWorker_2 as number[];
  const targets = [
    ['GET /protected ≥ 0.8 of baseline (1 worker)', find('GET /protected', one).ratio!, 0.8, '≥'],
    ['GET /users/:id ≥ 0.7 of baseline (1 worker)', find('GET /users/:id', one).ratio!, 0.7, '≥'],
    ['2 workers ≥ 1.6× 1 worker, GET /protected', find('GET /protected', two).reqPerSec / find('GET /protected', one).reqPerSec, 1.6, '≥'],
    ['2 workers ≥ 1.6× 1 worker, GET /users/:id', find('GET /users/:id', two).reqPerSec / find('GET /users/:id', one).reqPerSec, 1.6, '≥'],
    [
      'last page costs ≤ 2× page 1 (req/s ratio, 1 worker)',
      find('GET /users/pagination (page 1)', one).reqPerSec / find('GET /users/pagination (last page)', one).reqPerSec,
      2,
      '≤',
    ],
    ['GET /protected p99 under 50 ms while logins run (1 worker)', find('GET /protected while logins run', one).p99, 50, '<'],
    ['resident memory per worker under 150 MB', Math.max(...residentOne, ...residentTwo), 150, '<'],
    ['start-up to first answer under 1.5 s on an existing database (1 worker)', (notes.startupMs_1 as number) / 1000, 1.5, '<'],
  ] as const;
  const targetLines = targets.map(([name, value, bound, op]) => {
    const met = op === '≥' ? value >= bound : op === '≤' ? value <= bound : value < bound;
    return `- ${met ? 'met' : 'NOT met'}: ${name}: ${Number(value).toFixed(2)}`;
  });

  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark, ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on SQLite, ${SECONDS} s per measurement after a 1 s warm-up,`,
    `${CONNECTIONS} connections (8 for logins and registrations), autocannon on 127.0.0.1 in the same machine.`,
    '',
    table(rows),
    '',
    `Start-up to first answer on the seeded database: ${notes.startupMs_1} ms (1 worker), ${notes.startupMs_2} ms (2 workers).`,
    `Resident memory per worker after the run: ${residentOne.join(', ')} MB (1 worker); ${residentTwo.join(', ')} MB (2 workers).`,
    '',
    '## Targets',
    ...targetLines,
    '',
  ].join('\n');
  console.log('\n' + markdown);
  const folder = join(ROOT, 'bench', 'results');
  mkdirSync(folder, { recursive: true });
  const stamp = when.replace(/[:.]/g, '-');
  writeFileSync(join(folder, `bench-${stamp}.json`), JSON.stringify({ when, node: process.version, users: USERS, seconds: SECONDS, rows, notes }, null, 2));
  writeFileSync(join(folder, `bench-${stamp}.md`), markdown);
  writeFileSync(join(folder, 'latest.md'), markdown);
  console.log(`Written to bench/results/bench-${stamp}.{json,md} and bench/results/latest.md`);
}

await main();
