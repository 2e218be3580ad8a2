// Contract tests: Dredd sends every documented response's request to the real
// built server (dist/) on a throw-away database (SQLite, or PostgreSQL with
// TEST_DATABASE=postgres; see test/support/database.ts), with response
// validation on, and test/contract/dredd-hooks.cjs sets up each case and
// checks each body against the spec. The run fails unless every documented
// response ran as a transaction and passed: none skipped, none missing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec, specPath } from '../src/contract/spec.js';
import { documentedResponses } from '../test/contract/transactions.js';
import { backend, createTestDatabase, type TestDatabase } from '../test/support/database.js';
import { startServerProcess, type ServerProcess } from '../test/support/process.js';

/** What this runner uses of Dredd, which ships no types. */
interface DreddRunner {
  run(callback: (error: Error | null, stats: DreddStats) => void): void;
}
const require = createRequire(import.meta.url);
const Dredd = require('dredd') as new (configuration: Record<string, unknown>) => DreddRunner;

const ROOT = join(import.meta.dirname, '..');
const ADMIN = { ADMIN_EMAIL: 'contract-admin@example.com', ADMIN_PASSWORD: 'contract-admin-password' };

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess(
    {
      NODE_ENV: 'test',
      JWT_SECRET: 'contract-test-secret-0123456789abcdef-0123456789',
      SIGNING_KEYS_SECRET: 'contract-test-secret-0123456789abcdef-0123456789',
      VALIDATE_RESPONSES: 'true',
      ...ADMIN,
      ...env,
    },
    { built: true },
  );
}

function runDredd(port: number, env: Record<string, string>): Promise<DreddStats> {
  Object.assign(process.env, env); // the hooks run in this process and read their settings from it
  const dredd = new Dredd({
    endpoint: `http://127.0.0.1:${port}`,
    path: [specPath()],
    hookfiles: [join(ROOT, 'test', 'contract', 'dredd-hooks.cjs')],
    loglevel: 'error',
    reporter: [],
  });
  return new Promise((resolve, reject) =>
    dredd.run((error: Error | null, stats: DreddStats) => (error ? reject(error) : resolve(stats))),
  );
}

interface DreddStats {
  tests: number;
  passes: number;
  failures: number;
  errors: number;
  skipped: number;
}

const workDir = mkdtempSync(join(tmpdir(), 'contract-'));
const reportFile = join(workDir, 'report.jsonl');
const servers: ServerProcess[] = [];
const databases: TestDatabase[] = [];
let exitCode = 1;
try {
  console.log(`Contract tests on ${backend}`);
  const mainDatabase = await createTestDatabase();
  databases.push(mainDatabase);
  const main = await startServer({ DATABASE_URL: mainDatabase.url });
  servers.push(main);
  // A second instance with the strictest settings, for the responses only a
  // setting can provoke: the listing's 401 and the limits' 429s.
  const strictDatabase = await createTestDatabase();
  databases.push(strictDatabase);
  const strict = await startServer({
    DATABASE_URL: strictDatabase.url,
    USERS_LIST_REQUIRES_AUTH: 'true',
    REGISTRATIONS_PER_ADDRESS: '1',
    LOGIN_MAX_FAILURES_PER_EMAIL: '1',
    PASSWORD_CHANGE_MAX_FAILURES_PER_USER: '1',
    PASSWORD_RESET_REQUESTS_PER_EMAIL: '1',
    // For the 403 of an authentication no longer recent.
    REAUTH_MAX_AGE_SECONDS: '1',
  });
  servers.push(strict);
  // A third on the main database whose hashing budget is below the cost of
  // one hash, so every request that would hash meets the 503 a flood causes.
  const busy = await startServer({
    DATABASE_URL: mainDatabase.url,
    MIGRATE_ON_START: 'false',
    PASSWORD_HASH_QUEUE_SECONDS_PER_ADDRESS: '0.001',
  });
  servers.push(busy);
  // A fourth on the main database requiring verified emails, for the 403s an
  // unverified account meets.
  const gated = await startServer({
    DATABASE_URL: mainDatabase.url,
    MIGRATE_ON_START: 'false',
    REQUIRE_VERIFIED_EMAIL: 'true',
  });
  servers.push(gated);

  const stats = await runDredd(main.port, {
    CONTRACT_BASE_URL: `http://127.0.0.1:${main.port}`,
    CONTRACT_STRICT_URL: `http://127.0.0.1:${strict.port}`,
    CONTRACT_BUSY_URL: `http://127.0.0.1:${busy.port}`,
    CONTRACT_GATED_URL: `http://127.0.0.1:${gated.port}`,
    CONTRACT_DATABASE_URL: mainDatabase.url,
    CONTRACT_REPORT: reportFile,
    ...ADMIN,
  });

  const ran = readFileSync(reportFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { name: string; fail: string | false });
  const expected = documentedResponses(loadSpec()).map((r) => r.name);
  const missing = expected.filter((name) => !ran.some((r) => r.name === name));
  const repeated = expected.filter((name) => ran.filter((r) => r.name === name).length > 1);
  for (const { name, fail } of ran) console.log(`${fail ? 'FAIL' : 'pass'}  ${name}${fail ? `\n      ${fail}` : ''}`);
  for (const name of missing) console.log(`MISSING  ${name}`);

  console.log(
    `\nDredd: ${stats.tests} transactions, ${stats.passes} passing, ${stats.failures} failing, ` +
      `${stats.errors} errors, ${stats.skipped} skipped; ${expected.length} documented responses`,
  );
  const ok =
    stats.failures === 0 &&
    stats.errors === 0 &&
    stats.skipped === 0 &&
    stats.tests === expected.length &&
    missing.length === 0 &&
    repeated.length === 0;
  console.log(`contract (${backend}): ${stats.passes} passed, ${stats.tests - stats.passes} failed`);
  exitCode = ok ? 0 : 1;
} catch (error) {
  console.error('contract tests could not run:', error);
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  for (const database of databases) await database.drop();
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
