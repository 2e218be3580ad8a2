// `npm start` is what people and many container setups run: a process
// manager's SIGTERM to npm must reach the server and drain it, not leave it
// running, orphaned, on the port.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase } from '../support/database.js';
import { freePort } from '../support/process.js';
import { TEST_SECRET } from '../support/server.js';

const ROOT = join(import.meta.dirname, '..', '..');

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

describe('npm start', function () {
  this.timeout(120_000);

  it('passes SIGTERM to the server, which drains and exits with npm, freeing the port', async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        JWT_SECRET: TEST_SECRET,
        SIGNING_KEYS_SECRET: TEST_SECRET,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk) => (output += chunk));
    npm.stderr.on('data', (chunk) => (output += chunk));
    try {
      const deadline = Date.now() + 90_000;
      while (!(await portOpen(port))) {
        if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not listen:\n${output}`);
        await sleep(200);
      }
      const exited = once(npm, 'exit');
      npm.kill('SIGTERM');
      await exited;
      await sleep(200);
      expect(await portOpen(port), 'the server still holds the port').to.equal(false);
      expect(output).to.include('SIGTERM: finishing requests in flight');
      expect(output).to.include('"msg":"stopped"');
      // A start prints the start-up line and nothing a user must read past (no tool banners).
      expect(output).to.not.match(/╔|Deprecation warning/);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      await database.drop();
    }
  });
});
