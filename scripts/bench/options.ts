// Every option of `npm run bench`, from its flags and the environment (see
// scripts/bench.ts and bench/README.md).
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const ROOT = join(import.meta.dirname, '..', '..');
const { values: flags } = parseArgs({
  options: {
    'flood-only': { type: 'boolean', default: false },
    'pool-sizes': { type: 'string' },
    only: { type: 'string' },
  },
});
export const FLOOD_ONLY = flags['flood-only'] || process.env.BENCH_FLOOD_ONLY === '1';
export const POOL_SIZES = flags['pool-sizes']?.split(',').map(Number);
/** Scenario ids (their file names under scenarios/) to measure, instead of all of them. */
export const ONLY = flags.only?.split(',');
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
export const USERS = Number(process.env.BENCH_USERS ?? (FLOOD_ONLY ? 1000 : 100_000));
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
export const FLOOD_LOGINS = Number(process.env.BENCH_FLOOD_LOGINS ?? 40); // per phase
export const FLOOD_CONNECTIONS = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 32);
// A PostgreSQL server where the bench may create (and then drops) a database:
// the service is measured there too, beside SQLite.
export const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_DATABASE_URL;
export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
