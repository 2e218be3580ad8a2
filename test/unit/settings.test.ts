import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { SETTINGS } from '../../src/settings.js';
import { ENV_EXAMPLE_PATH, SETTINGS_DOC_PATH, envExample, withSettingsTable } from '../../scripts/settings-docs.js';

/** The environment variables loadConfig reads, for one environment. */
function namesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const watched = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
    has(target, name) {
      if (typeof name === 'string') read.add(name);
      return name in target;
    },
  });
  loadConfig(watched);
  return read;
}

describe('the settings list (src/settings.ts)', () => {
  it('names exactly the settings src/config.ts reads', () => {
    const secret = 'a-secret-that-is-long-enough-for-hs256-0123456789';
    const read = new Set([
      ...namesRead({ DATABASE_URL: 'sqlite::memory:' }),
      ...namesRead({ DATABASE_URL: 'sqlite::memory:', JWT_ALGORITHM: 'HS256' }),
      ...namesRead({
        DATABASE_URL: 'postgres://u:p@localhost/db',
        JWT_SECRET: secret,
        SIGNING_KEYS_SECRET: secret,
        ADMIN_EMAIL: 'admin@example.com',
        ADMIN_PASSWORD: 'a-long-admin-password',
      }),
    ]);
    expect([...read].sort()).to.deep.equal(Object.keys(SETTINGS).sort());
  });

  it('is what the table in docs/configuration.md and .env.example say (npm run docs:settings writes them)', () => {
    const page = readFileSync(SETTINGS_DOC_PATH, 'utf8');
    expect(page, 'docs/configuration.md: run npm run docs:settings').to.equal(withSettingsTable(page));
    expect(readFileSync(ENV_EXAMPLE_PATH, 'utf8'), '.env.example: run npm run docs:settings').to.equal(envExample());
  });

  it('gives the defaults the service uses', () => {
    const config = loadConfig({ DATABASE_URL: 'sqlite::memory:' });
    expect(config.port).to.equal(SETTINGS.PORT.default);
    expect(config.rateLimits.loginMaxFailuresPerEmail).to.equal(SETTINGS.LOGIN_MAX_FAILURES_PER_EMAIL.default);
    expect(config.hashing.maxQueuedSeconds).to.equal(SETTINGS.PASSWORD_HASH_QUEUE_SECONDS.default);
    expect(config.logLevel).to.equal(SETTINGS.LOG_LEVEL.default);
  });
});
