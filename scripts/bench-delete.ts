// npm run bench:delete: what deleting an account costs among 100,000 users,
// and what the listing costs after 10% of them are gone. On SQLite, and on
// PostgreSQL too when TEST_DATABASE_URL names a server (a throw-away database
// is made there). Prints the numbers and writes them to
// bench/results/delete-*.{json,md}. Numbers, not assertions.
//
// A deletion renumbers the positions after the deleted user (the listing's
// dense positions, migration 003), so its cost grows with how many users
// come after it: deletions are measured at the start, the middle and the end.
//
// BENCH_USERS (100000), BENCH_DELETES (15 per place).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDomain } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { backend, createTestDatabase } from '../test/support/database.js';
import { seedUsers } from './seed.js';

const ROOT = join(import.meta.dirname, '..');
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const DELETES = Number(process.env.BENCH_DELETES ?? 15);
const PAGE_READS = 2000;

interface Result {
  backend: string;
  users: number;
  deleteMs: Record<'start' | 'middle' | 'end', { median: number; p95: number }>;
  pageMicros: { first: number; last: number; ratio: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)];
}

async function measure(): Promise<Result> {
  const database = await createTestDatabase();
  try {
    console.log(`${backend}: seeding ${USERS.toLocaleString('en')} users`);
    await seedUsers(database.url, USERS, () => {});
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: database.url,
      JWT_SECRET: 'x'.repeat(32),
      SIGNING_KEYS_SECRET: 'x'.repeat(32),
    });
    const domain = await openDomain({ ...config, bootstrapAdmin: undefined }, createLogger('silent'));
    try {
      const origin = { address: 'bench', requestId: 'bench' };
      const deleteByEmail = async (email: string) => {
        const id = await domain.administration.idOf(email);
        if (id === undefined) return false;
        await domain.administration.delete(undefined, id, origin);
        return true;
      };
      const deleteMs = {} as Result['deleteMs'];
      // Seeded user n has position n: delete near the start (most users move
      // up), in the middle, and at the end (none do).
      const places = { start: 1, middle: Math.floor(USERS / 2), end: USERS - DELETES * 3 };
      for (const [place, from] of Object.entries(places) as [keyof Result['deleteMs'], number][]) {
        const times: number[] = [];
        for (let i = 0; i < DELETES; i++) {
          const email = `seed.user.${from + i * 2}@example.com`;
          const started = performance.now();
          if (!(await deleteByEmail(email))) throw new Error(`no ${email}`);
          times.push(performance.now() - started);
        }
        deleteMs[place] = { median: round(median(times)), p95: round(p95(times)) };
        console.log(`  delete at the ${place}: median ${deleteMs[place].median} ms, p95 ${deleteMs[place].p95} ms`);
      }

      // 10% gone: every tenth seeded user, deleted one by one as above.
      const tenth = Array.from(
        { length: Math.floor(USERS / 10) },
        (_, i) => `seed.user.${(i + 1) * 10 - 5}@example.com`,
      );
      const started = performance.now();
      for (const email of tenth) await deleteByEmail(email);
      console.log(`  deleted every tenth user: ${Math.round((performance.now() - started) / 1000)} s in all`);
      const { total } = await domain.users.list(1, 10);
      const lastPage = Math.ceil(total / 10);
      // Alternating rounds, so both pages meet the same conditions.
      const spent = { first: 0, last: 0 };
      for (let i = 0; i < 200; i++) await domain.users.list(i % 2 ? 1 : lastPage, 10); // warm-up
      for (let round = 0; round < 10; round++) {
        for (const [name, page] of [
          ['first', 1],
          ['last', lastPage],
        ] as const) {
          const roundStarted = performance.now();
          for (let i = 0; i < PAGE_READS / 10; i++) await domain.users.list(page, 10);
          spent[name] += performance.now() - roundStarted;
        }
      }
      const first = (spent.first * 1000) / PAGE_READS;
      const last = (spent.last * 1000) / PAGE_READS;
      const pageMicros = { first: round(first), last: round(last), ratio: round(last / first) };
      console.log(
        `  listing with ${total.toLocaleString('en')} users left: page 1 ${pageMicros.first} µs, ` +
          `page ${lastPage} ${pageMicros.last} µs (${pageMicros.ratio}×)`,
      );
      return { backend, users: USERS, deleteMs, pageMicros };
    } finally {
      await domain.close();
    }
  } finally {
    await database.drop();
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

if (process.env.BENCH_DELETE_CHILD === '1') {
  process.stdout.write(`RESULT ${JSON.stringify(await measure())}\n`);
} else {
  const results: Result[] = [];
  const backends = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  if (!process.env.TEST_DATABASE_URL) console.log('(PostgreSQL skipped: set TEST_DATABASE_URL to measure it too)');
  for (const name of backends) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename], {
      env: { ...process.env, BENCH_DELETE_CHILD: '1', TEST_DATABASE: name },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = run.stdout.split('\n');
    for (const line of lines.filter((l) => !l.startsWith('RESULT '))) if (line) console.log(line);
    const result = lines.find((l) => l.startsWith('RESULT '));
    if (run.status !== 0 || !result) throw new Error(`the ${name} run failed`);
    results.push(JSON.parse(result.slice('RESULT '.length)) as Result);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const rows = results.flatMap((r) => [
    `| ${r.backend} | start | ${r.deleteMs.start.median} | ${r.deleteMs.start.p95} |`,
    `| ${r.backend} | middle | ${r.deleteMs.middle.median} | ${r.deleteMs.middle.p95} |`,
    `| ${r.backend} | end | ${r.deleteMs.end.median} | ${r.deleteMs.end.p95} |`,
  ]);
  const pages = results.map(
    (r) => `| ${r.backend} | ${r.pageMicros.first} | ${r.pageMicros.last} | ${r.pageMicros.ratio} |`,
  );
  const markdown = [
    `# Deleting accounts, ${new Date().toISOString()}`,
    '',
    `${USERS.toLocaleString('en')} users; ${DELETES} deletions at each place, one at a time, through the domain (the erasure transaction).`,
    '',
    '| database | deleted near | median ms | p95 ms |',
    '| --- | --- | ---: | ---: |',
    ...rows,
    '',
    `After 10% of the users are deleted (one by one): mean time of one listing read (page and count), ${PAGE_READS} reads each, in alternating rounds.`,
    '',
    '| database | page 1 µs | last page µs | last / first |',
    '| --- | ---: | ---: | ---: |',
    ...pages,
    '',
  ].join('\n');
  writeFileSync(join(dir, `delete-${stamp}.json`), JSON.stringify(results, null, 2));
  writeFileSync(join(dir, `delete-${stamp}.md`), markdown);
  console.log(`\n${markdown}\nWritten to bench/results/delete-${stamp}.{json,md}`);
}
