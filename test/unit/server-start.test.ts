import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

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
});
