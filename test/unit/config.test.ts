import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';

const SECRET = 'x'.repeat(32);
const SECRETS = { JWT_SECRET: SECRET, SIGNING_KEYS_SECRET: SECRET };

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(SECRETS);
    expect(config).to.include({
      port: 3000,
      host: '0.0.0.0',
      usersListRequiresAuth: false,
      logLevel: 'info',
      migrateOnStart: true,
      webConcurrency: 1,
    });
    expect(config.database).to.deep.equal({ client: 'sqlite', filename: join(process.cwd(), 'data', 'users.sqlite') });
    expect(config.bootstrapAdmin).to.equal(undefined);
    expect(config.retention).to.deep.equal({ auditDays: 365, mailDays: 7 });
    expect(config.tokens).to.deep.equal({
      signing: { algorithm: 'ES256', keysSecret: SECRET },
      accessTokenTtlSeconds: 900,
      sessionTtlSeconds: 1_209_600,
      refreshReuseGraceSeconds: 10,
      jwksMaxAgeSeconds: 300,
      issuer: 'user-service',
      audience: 'user-service',
    });
    expect(config.warnings).to.deep.equal([
      'JWT_SECRET is set but not used: tokens are signed with ES256 keys (JWT_ALGORITHM=HS256 uses it)',
    ]);
    expect(loadConfig({ ...SECRETS, JWT_ALGORITHM: 'HS256' }).tokens.signing).to.deep.equal({
      algorithm: 'HS256',
      secret: SECRET,
    });
  });

  const refused: [string, Record<string, string | undefined>, string][] = [
    ['a port that is not a number', { PORT: 'eighty' }, 'PORT must be a whole number from 0 to 65535, got "eighty"'],
    ['a port out of range', { PORT: '70000' }, 'PORT must be a whole number'],
    ['a short secret', { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 32 characters'],
    ['a short keys secret', { SIGNING_KEYS_SECRET: 'short' }, 'SIGNING_KEYS_SECRET must be at least 32 characters'],
    ['an unknown algorithm', { JWT_ALGORITHM: 'RS256' }, 'JWT_ALGORITHM must be one of ES256, HS256, got "RS256"'],
    [
      'sessions shorter than their tokens',
      { JWT_TTL_SECONDS: '900', SESSION_TTL_SECONDS: '600' },
      'SESSION_TTL_SECONDS (600) must be at least JWT_TTL_SECONDS (900)',
    ],
    ['an unknown database', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must be'],
    ['half of the admin', { ADMIN_EMAIL: 'a@example.com' }, 'ADMIN_EMAIL and ADMIN_PASSWORD must be set together'],
    ['a bad boolean', { USERS_LIST_REQUIRES_AUTH: 'yes' }, 'USERS_LIST_REQUIRES_AUTH must be true or false'],
    ['a bad log level', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    ['a zero TTL', { JWT_TTL_SECONDS: '0' }, 'JWT_TTL_SECONDS must be a whole number from 1'],
    [
      'PostgreSQL without a secret',
      { DATABASE_URL: 'postgres://u:p@h/db', SIGNING_KEYS_SECRET: undefined },
      'SIGNING_KEYS_SECRET is required with PostgreSQL',
    ],
    [
      'PostgreSQL and HS256 without a secret',
      { DATABASE_URL: 'postgres://u:p@h/db', JWT_ALGORITHM: 'HS256', JWT_SECRET: undefined },
      'JWT_SECRET is required with PostgreSQL',
    ],
    [
      'a pool of 0',
      { DATABASE_URL: 'postgres://u:p@h/db', DB_POOL_MAX: '0' },
      'DB_POOL_MAX must be a whole number from 1',
    ],
    ['0 workers', { WEB_CONCURRENCY: '0' }, 'WEB_CONCURRENCY must be a whole number from 1 to 64'],
    ['a bad MIGRATE_ON_START', { MIGRATE_ON_START: 'later' }, 'MIGRATE_ON_START must be true or false'],
    ['an empty HOST', { HOST: '' }, 'HOST must be an address or host name'],
    [
      'workers on an in-memory database',
      { DATABASE_URL: 'sqlite::memory:', WEB_CONCURRENCY: '2' },
      'WEB_CONCURRENCY above 1 needs a database file',
    ],
    [
      'production without a secret',
      { NODE_ENV: 'production', SIGNING_KEYS_SECRET: undefined },
      'SIGNING_KEYS_SECRET is required when NODE_ENV=production',
    ],
    [
      'a mail retention shorter than a link works',
      { MAIL_RETENTION_DAYS: '1', VERIFY_EMAIL_TOKEN_TTL_SECONDS: '172800' },
      'MAIL_RETENTION_DAYS (1) must be 0 or at least the longest link lifetime (2 days)',
    ],
    [
      'a negative audit retention',
      { AUDIT_RETENTION_DAYS: '-1' },
      'AUDIT_RETENTION_DAYS must be a whole number from 0',
    ],
    [
      'production and HS256 without a secret',
      { NODE_ENV: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: undefined },
      'JWT_SECRET is required when NODE_ENV=production',
    ],
  ];
  for (const [what, env, message] of refused) {
    it(`refuses ${what} with a message naming the setting`, () => {
      const attempt = () => loadConfig({ ...SECRETS, ...env });
      expect(attempt).to.throw(ConfigError, message);
    });
  }

  it('reads PostgreSQL URLs and in-memory SQLite', () => {
    expect(loadConfig({ ...SECRETS, DATABASE_URL: 'postgres://u:p@localhost:5432/db' }).database).to.deep.equal({
      client: 'postgres',
      connectionString: 'postgres://u:p@localhost:5432/db',
      poolMax: 4,
      preparedStatements: true,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 5000,
    });
    const tuned = loadConfig({
      ...SECRETS,
      DATABASE_URL: 'postgresql://u:p@db/users',
      DB_POOL_MAX: '25',
      DB_STATEMENT_TIMEOUT_MS: '0',
      DB_CONNECT_TIMEOUT_MS: '1500',
      DB_PREPARED_STATEMENTS: 'false',
    }).database;
    expect(tuned).to.include({ poolMax: 25, preparedStatements: false, statementTimeoutMs: 0, connectTimeoutMs: 1500 });
    expect(loadConfig({ ...SECRETS, DATABASE_URL: 'sqlite::memory:' }).database.client).to.equal('sqlite');
  });

  for (const [algorithm, name, fileName] of [
    ['ES256', 'SIGNING_KEYS_SECRET', 'signing-keys-secret'],
    ['HS256', 'JWT_SECRET', 'jwt-secret'],
  ] as const) {
    it(`generates ${name} once outside production (${algorithm}) and keeps it beside the database, private`, () => {
      const folder = mkdtempSync(join(tmpdir(), 'config-'));
      try {
        const env = { DATABASE_URL: `sqlite:${join(folder, 'db', 'users.sqlite')}`, JWT_ALGORITHM: algorithm };
        const secretOf = (config: ReturnType<typeof loadConfig>) =>
          config.tokens.signing.algorithm === 'ES256' ? config.tokens.signing.keysSecret : config.tokens.signing.secret;
        const first = loadConfig(env);
        const secretFile = join(folder, 'db', fileName);
        expect(existsSync(secretFile)).to.equal(true);
        expect(statSync(secretFile).mode & 0o777).to.equal(0o600);
        expect(secretOf(first)).to.equal(readFileSync(secretFile, 'utf8'));
        expect(secretOf(first).length).to.be.at.least(32);
        expect(first.warnings[0]).to.equal(`${name} is not set: generated one and kept it in ${secretFile}`);
        expect(secretOf(loadConfig(env))).to.equal(secretOf(first));
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    });
  }

  it('refuses a kept secret that is too short, and a secret file it cannot write, in one line', () => {
    const folder = mkdtempSync(join(tmpdir(), 'config-'));
    try {
      writeFileSync(join(folder, 'signing-keys-secret'), '');
      expect(() => loadConfig({ DATABASE_URL: `sqlite:${join(folder, 'users.sqlite')}` })).to.throw(
        ConfigError,
        'holds fewer than 32 characters: delete it to generate a new secret',
      );
      writeFileSync(join(folder, 'a-file'), 'not a folder');
      expect(() => loadConfig({ DATABASE_URL: `sqlite:${join(folder, 'a-file', 'users.sqlite')}` })).to.throw(
        ConfigError,
        'SIGNING_KEYS_SECRET is not set and',
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('turns response validation off in production unless asked for', () => {
    expect(loadConfig({ ...SECRETS, NODE_ENV: 'production' }).validateResponses).to.equal(false);
    expect(loadConfig(SECRETS).validateResponses).to.equal(true);
    expect(loadConfig({ ...SECRETS, NODE_ENV: 'production', VALIDATE_RESPONSES: 'true' }).validateResponses).to.equal(
      true,
    );
  });
});
