// The servers under measurement: the baseline (scripts/bench-baseline.ts) and
// the built service as `npm start` runs it, in its variants.
import { join } from 'node:path';
import { startServerProcess } from '../../test/support/process.js';
import { SEED_PASSWORD } from '../seed.js';
import { ROOT, SECRET } from './options.js';
import { ofKinds } from './scenarios/index.js';
import type { ScenarioKind, Server } from './types.js';

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

export async function startBaseline(): Promise<Server> {
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
    scenarios: ofKinds(['hot read']),
    underLogins: false,
    onPostgres: false,
    stop: () => baseline.stop(),
  };
}

// The reads and the one write behind every request's pool use; logins and
// registrations wait on argon2, not on connections.
export const POOL_KINDS: ScenarioKind[] = ['hot read', 'listing', 'write'];

interface ServiceVariant {
  /** HS256 is measured on the hot reads only, beside the default ES256. */
  algorithm?: 'ES256' | 'HS256';
  /** Named in the label when it is not the default SQLite file. */
  database?: 'PostgreSQL';
  /** PostgreSQL's hot reads through Knex instead of named prepared statements (the reads only). */
  unprepared?: boolean;
  /** DB_POOL_MAX, named in the label (the --pool-sizes run). */
  poolMax?: number;
  /** The kinds of scenario to measure, where not the variant's usual ones. */
  only?: ScenarioKind[];
}

/** The built service as `npm start` runs it. */
export async function startService(
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
  // Logins under load and the flood measure the hashing admission, which the database does not change.
  const underLogins = defaultAlgorithm && !database;
  const label = [
    `service, ${workers} worker${workers === 1 ? '' : 's'}`,
    defaultAlgorithm ? '' : algorithm,
    database,
    unprepared ? 'unprepared' : '',
    poolMax === undefined ? '' : `pool ${poolMax}`,
  ]
    .filter(Boolean)
    .join(', ');
  const kinds: ScenarioKind[] =
    only ??
    (!defaultAlgorithm
      ? ['hot read']
      : unprepared
        ? ['hot read', 'listing']
        : poolMax !== undefined
          ? POOL_KINDS
          : ['hot read', 'listing', 'hashing', 'write', ...(underLogins ? (['under logins'] as const) : [])]);
  return {
    label,
    url: service.url,
    pid: service.child.pid!,
    token: ((await login.json()) as { access_token: string }).access_token,
    scenarios: ofKinds(kinds),
    underLogins,
    onPostgres: database === 'PostgreSQL',
    startupMs: service.startupMs,
    stop: () => service.stop(),
  };
}
