// The PostgreSQL half of `npm test`: the HTTP, unit and contract suites again,
// each test server on a fresh PostgreSQL database made through
// TEST_DATABASE_URL (and the HTTP suite through a pooler, below). Without it
// the run is skipped, loudly, except under CI=true, where a missing server is
// a failure.
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
const mocha = join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
const steps: { name: string; args: string[]; env: NodeJS.ProcessEnv }[] = [
  { name: 'mocha', args: [mocha], env },
  { name: 'contract', args: ['--import', 'tsx', join(ROOT, 'scripts', 'contract-test.ts')], env },
];
// With TEST_POOLER_URL (PgBouncer in transaction mode, .ci/start-pgbouncer),
// the HTTP suite once more through it, set up as README's Running at scale
// says for a pooler that can't keep prepared statements. Not .mocharc's spec
// list: the unit tests of the pipelined connection talk to the server itself.
if (process.env.TEST_POOLER_URL) {
  steps.push({
    name: 'HTTP suite through PgBouncer (transaction mode, DB_PREPARED_STATEMENTS=false)',
    args: [mocha, '--no-config', '--node-option', 'import=tsx', '--timeout', '20000', 'test/http/**/*.test.ts'],
    env: { ...env, TEST_DATABASE_URL: process.env.TEST_POOLER_URL, DB_PREPARED_STATEMENTS: 'false' },
  });
}
for (const step of steps) {
  console.log(`\n== PostgreSQL: ${step.name}`);
  const run = spawnSync(process.execPath, step.args, { cwd: ROOT, env: step.env, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
