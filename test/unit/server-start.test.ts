import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { backend, createTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/server.js';

const SERVER = join(import.meta.dirname, '..', '..', 'src', 'server.ts');

describe('server start-up', () => {
  function start(env: Record<string, string>) {
    return spawnSync(process.execPath, ['--import', 'tsx', SERVER], {
      env: { ...process.env, DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'fatal', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });
  }

  it('stops with exit code 1 and a one-line message naming a bad setting', () => {
    const run = start({ PORT: 'eighty' });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim()).to.equal(
      'Configuration error: PORT must be a whole number from 0 to 65535, got "eighty"',
    );
  });

  it('stops with exit code 1 when the bootstrap admin is not a valid user', () => {
    const run = start({ ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'short' });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim()).to.equal(
      'Configuration error: ADMIN_* settings are not a valid user: /password must NOT have fewer than 8 characters',
    );
  });

  it('stops with exit code 1, saying why, when the port is taken', async () => {
    const occupier = createServer().listen(0, '127.0.0.1');
    await once(occupier, 'listening');
    try {
      const { port } = occupier.address() as AddressInfo;
      const run = start({ PORT: String(port), HOST: '127.0.0.1' });
      expect(run.status).to.equal(1);
      expect(run.stdout).to.include(`can't listen on 127.0.0.1:${port}`);
      expect(run.stdout).to.include('EADDRINUSE');
    } finally {
      occupier.close();
    }
  });

  it('logs why start-up failed without the values of the statement that failed', async () => {
    const database = await createTestDatabase();
    try {
      const db = openDatabase(loadConfig({ DATABASE_URL: database.url, SIGNING_KEYS_SECRET: TEST_SECRET }).database);
      try {
        await migrateToLatest(db);
        // The bootstrap admin's insert fails; the driver's error quotes the statement with its values.
        if (backend === 'sqlite') {
          await db.raw(
            "CREATE TRIGGER no_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'no users today'); END",
          );
        } else {
          await db.raw(
            "CREATE FUNCTION no_users() RETURNS trigger AS $$ BEGIN RAISE 'no users today'; END $$ LANGUAGE plpgsql",
          );
          await db.raw('CREATE TRIGGER no_users BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION no_users()');
        }
      } finally {
        await db.destroy();
      }
      const admin = { email: 'boot.admin@example.com', password: 'a-long-admin-password' };
      const run = start({
        DATABASE_URL: database.url,
        SIGNING_KEYS_SECRET: TEST_SECRET,
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
      });
      expect(run.status).to.equal(1);
      const [failure, ...others] = run.stdout.trim().split('\n');
      expect(others, 'one line').to.deep.equal([]);
      expect(JSON.parse(failure)).to.include({ msg: 'start-up failed' });
      expect(failure, 'the driver says why').to.include('no users today');
      expect(failure).not.to.include(admin.email);
      expect(failure).not.to.include(admin.password);
      expect(failure).not.to.include('$argon2');
      expect(failure.toLowerCase()).not.to.include('insert');
    } finally {
      await database.drop();
    }
  });
});
