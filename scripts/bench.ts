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
// The runner is under scripts/bench/ (run.ts, the full run), each scenario a
// file of scripts/bench/scenarios/; --only protected,user-by-id,… measures
// only those (their ids: scripts/bench/scenarios/index.ts).
//
// The flood scenario, last in every round on each service: logins from one
// address, first alone, then while another address floods registrations of a
// taken email (scripts/bench/scenarios/flood.ts). Alone, in well under a
// minute, on 1,000 users and the 1-worker service: npm run bench --
// --flood-only (or BENCH_FLOOD_ONLY=1); it writes
// bench/results/bench-flood-*.{json,md} and leaves latest.md alone.
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
import { floodOnly } from './bench/flood-only.js';
import { FLOOD_ONLY, ONLY, POOL_SIZES } from './bench/options.js';
import { poolSizes } from './bench/pool-sizes.js';
import { fullRun } from './bench/run.js';
import { SCENARIO_IDS } from './bench/scenarios/index.js';

const unknown = ONLY?.filter((id) => !SCENARIO_IDS.includes(id)) ?? [];
if (unknown.length > 0) {
  console.error(`Unknown scenario ${unknown.join(', ')}; --only takes some of: ${SCENARIO_IDS.join(', ')}`);
  process.exit(2);
}
await (FLOOD_ONLY ? floodOnly() : POOL_SIZES ? poolSizes(POOL_SIZES) : fullRun());
