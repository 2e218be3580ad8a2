// Contract tests: Dredd sends every documented response's request to the real
// built server (dist/) on a throw-away SQLite database, with response
// validation on, and test/contract/dredd-hooks.cjs sets up each case and
// checks each body against the spec. The run fails unless every documented
// response ran as a transaction and passed: none skipped, none missing.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const Dredd = require('dredd');
const { SPEC_PATH, loadSpec, documentedResponses } = require('../test/contract/transactions.cjs') as {
  SPEC_PATH: string;
  loadSpec(): unknown;
  documentedResponses(spec: unknown): { name: string }[];
};

const ROOT = join(import.meta.dirname, '..');
const ADMIN = { ADMIN_EMAIL: 'contract-admin@example.com', ADMIN_PASSWORD: 'contract-admin-password' };

interface RunningServer {
  port: number;
  child: ChildProcess;
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  return port;
}

async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'server.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: 'contract-test-secret-0123456789abcdef-0123456789',
      VALIDATE_RESPONSES: 'true',
      LOG_LEVEL: 'warn',
      ...ADMIN,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before serving`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/users/pagination?per_page=1`)).status < 500) return { port, child };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill();
  throw new Error('server did not start within 10 s');
}

function runDredd(port: number, env: Record<string, string>): Promise<DreddStats> {
  Object.assign(process.env, env); // the hooks run in this process and read their settings from it
  const dredd = new Dredd({
    endpoint: `http://127.0.0.1:${port}`,
    path: [SPEC_PATH],
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
const databaseFile = join(workDir, 'users.sqlite');
const reportFile = join(workDir, 'report.jsonl');
const servers: RunningServer[] = [];
let exitCode = 1;
try {
  const main = await startServer({ DATABASE_URL: `sqlite:${databaseFile}` });
  servers.push(main);
  const listRequiresAuth = await startServer({
    DATABASE_URL: `sqlite:${join(workDir, 'list-auth.sqlite')}`,
    USERS_LIST_REQUIRES_AUTH: 'true',
  });
  servers.push(listRequiresAuth);

  const stats = await runDredd(main.port, {
    CONTRACT_BASE_URL: `http://127.0.0.1:${main.port}`,
    CONTRACT_LIST_AUTH_PORT: String(listRequiresAuth.port),
    CONTRACT_DB_FILE: databaseFile,
    CONTRACT_REPORT: reportFile,
    ...ADMIN,
  });

  const ran = readFileSync(reportFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { name: string; fail: string | false });
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
  console.log(`contract: ${stats.passes} passed, ${stats.tests - stats.passes} failed`);
  exitCode = ok ? 0 : 1;
} catch (error) {
  console.error('contract tests could not run:', error);
} finally {
  for (const { child } of servers) child.kill('SIGTERM');
  await Promise.all(servers.map(({ child }) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
