import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SERVER = join(import.meta.dirname, '..', '..', 'src', 'server.ts');

describe('server start-up', () => {
  function start(env: Record<string, string>) {
    return spawnSync(process.execPath, ['--import', 'tsx', SERVER], {
      env: { ...process.env, DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 15_000,
    });
  }

  it('stops with exit code 1 and a one-line message naming a bad setting', () => {
    const run = start({ PORT: 'eighty' });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim()).to.equal('Configuration error: PORT must be a whole number from 0 to 65535, got "eighty"');
  });

  it('stops with exit code 1 when the bootstrap admin is not a valid user', () => {
    const run = start({ ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'short', LOG_LEVEL: 'fatal' });
    expect(run.status).to.equal(1);
    expect(run.stdout).to.include('ADMIN_* settings are not a valid user: /password must NOT have fewer than 8 characters');
  });
});
