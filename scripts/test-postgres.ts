// The PostgreSQL half of `npm test`: the HTTP, unit and contract suites again,
// each test server on a fresh PostgreSQL database made through
// TEST_DATABASE_URL (and the HTTP suite through a pooler, below). Without it the run is skipped, loudly, except under
// CI=true, where a missing server is a failure.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

if (!process.env.TEST_DATABASE_URL) {
  const how = 'set TEST_DATABASE_URL=postgres://user:pass@host:port/db (a role that may create databases)';
  if (process.env.CI === 'true') {
    console.error(`PostgreSQL suite: TEST_DATABASE_URL is not set, and CI=true requires it: ${how}`);
    process.exit(1);
  }
  console.log(`\n*** PostgreSQL suite SKIPPED: ${how} to run it ***\n`);
  process.exit(0);
}

const env = { ...process.env, TEST_DATABASE: 'postgres' };
const steps: [string, string[]][] = [
  ['mocha', [join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js')]],
  ['contract', ['--import', 'tsx', join(ROOT, 'scripts', 'contract-test.ts')]],
];
for (const [name, args] of steps) {
  console.log(`\n== PostgreSQL: ${name}`);
  const run = spawnSync(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

// With TEST_POOLER_URL (PgBouncer in transaction mode, .ci/start-pgbouncer),
// the HTTP suite once more through it, set up as README's Running at scale
// says for a pooler that can't keep prepared statements.
if (process.env.TEST_POOLER_URL) {
  console.log('\n== PostgreSQL through PgBouncer (transaction mode, DB_PREPARED_STATEMENTS=false): HTTP suite');
  const run = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
      // Not .mocharc's spec list: the unit tests of the pipelined connection talk to the server itself.
      '--no-config',
      '--node-option',
      'import=tsx',
      '--timeout',
      '20000',
      'test/http/**/*.test.ts',
    ],
    {
      cwd: ROOT,
      env: { ...env, TEST_DATABASE_URL: process.env.TEST_POOLER_URL, DB_PREPARED_STATEMENTS: 'false' },
      stdio: 'inherit',
    },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
