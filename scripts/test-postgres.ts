// The PostgreSQL half of `npm test`: the HTTP, unit and contract suites again,
// each test server on a fresh PostgreSQL database made through
// TEST_DATABASE_URL. Without it the run is skipped, loudly, except under
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
