// The one place that reads the environment. Every setting is validated here at
// start-up; a bad value stops the process with a one-line message naming it.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { HashingBudget } from './domain/hash-admission.js';
import { ROLES, type Role } from './domain/model.js';
import type { RateLimitValues } from './domain/rate-limits.js';
import type { RetentionSettings } from './domain/retention.js';
import { defaultOf, SETTINGS, type Setting, type SettingName } from './settings.js';

export type DatabaseConfig = { client: 'sqlite'; filename: string } | PostgresConfig; // filename: ':memory:' or a path

export interface PostgresConfig {
  client: 'postgres';
  connectionString: string;
  poolMax: number;
  /** The hot reads prepared, on a pipelined connection of their own (off for a pooler that can't keep them). */
  preparedStatements: boolean;
  statementTimeoutMs: number;
  /** How long connecting may take before the call fails. */
  connectTimeoutMs: number;
}

export interface ConnectionLimits {
  /** All request headers within this long (slowloris). */
  headersTimeoutMs: number;
  /** The most open connections a process holds; more are closed at once. */
  maxConnections: number;
}

/** How access tokens are signed: keys in the database (ES256), or one shared secret (HS256). */
export type TokenSigning = { algorithm: 'ES256'; keysSecret: string } | { algorithm: 'HS256'; secret: string };

export interface TokenConfig {
  signing: TokenSigning;
  accessTokenTtlSeconds: number;
  sessionTtlSeconds: number;
  refreshReuseGraceSeconds: number;
  jwksMaxAgeSeconds: number;
  issuer: string;
  audience: string;
}

export interface BootstrapAdmin {
  email: string;
  password: string;
  userName: string;
}

export interface Config {
  port: number;
  host: string;
  nodeEnv: string;
  database: DatabaseConfig;
  tokens: TokenConfig;
  /** Origins allowed to call from a browser; empty: CORS off. */
  corsOrigins: string[];
  /** How many proxies in front may set X-Forwarded-For (0: use the socket address). */
  trustProxy: number;
  /** Abuse limits; 0 turns one off. */
  rateLimits: RateLimitValues;
  bootstrapAdmin: BootstrapAdmin | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Human-readable log lines instead of JSON, for a terminal. */
  logPretty: boolean;
  usersListRequiresAuth: boolean;
  validateResponses: boolean;
  /** Run pending migrations at start-up; off when a deploy step runs `npm run migrate`. */
  migrateOnStart: boolean;
  /** Worker processes in this instance (node:cluster); 1 serves from the main process. */
  webConcurrency: number;
  /** GET /metrics (Prometheus); with a token, only for `Authorization: Bearer <token>`. */
  metrics: { enabled: boolean; token: string | undefined };
  /** Password hashes computed at once per process, and how much may wait (seconds of work). */
  hashing: HashingBudget;
  /** Password recovery: the app's reset page (with `{token}`) and how long a link works. */
  recovery: { resetUrl: string; tokenTtlSeconds: number };
  /** Undoing an email change from the old address: the page (with `{token}`) and how long its link works. */
  emailRevert: { revertUrl: string; tokenTtlSeconds: number };
  /** Email verification: the app's page (with `{token}`), how long a link works, whether it is required. */
  verification: { verifyUrl: string; tokenTtlSeconds: number; required: boolean };
  /** The second factor: the issuer apps show, how long a pending login lasts, and how recent a sensitive change's authentication must be. */
  secondFactor: { issuer: string; challengeTtlSeconds: number; reauthMaxAgeSeconds: number; requiredForRoles: Role[] };
  /** Outgoing mail: SMTP, or kept in the outbox when `smtpUrl` is unset. */
  mail: { smtpUrl: string | undefined; from: string; pollMs: number };
  /** How long the audit trail and the outbox keep their rows, in days; 0 keeps them. */
  retention: RetentionSettings;
  /** Bounds on client connections, per process. */
  connections: ConnectionLimits;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish. */
  shutdownGraceSeconds: number;
  /** On SIGTERM/SIGINT, how long readiness answers 503 before the listener closes. */
  shutdownReadinessDelaySeconds: number;
  /** Said once at start-up, after the logger exists (for example a generated secret). */
  warnings: string[];
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MIN_SECRET_LENGTH = 32;

export function loadConfig(env: Env = process.env): Config {
  const warnings: string[] = [];
  const nodeEnv = env.NODE_ENV ?? defaultOf('NODE_ENV');
  const database = databaseFrom(env);
  const webConcurrency = integerSetting(env, 'WEB_CONCURRENCY', 1, 64);
  if (webConcurrency > 1 && database.client === 'sqlite' && database.filename === ':memory:') {
    throw new ConfigError(
      'WEB_CONCURRENCY above 1 needs a database file: each worker would have its own in-memory database',
    );
  }
  const recovery = {
    resetUrl: linkTemplateSetting(env, 'RESET_PASSWORD_URL'),
    tokenTtlSeconds: integerSetting(env, 'RESET_TOKEN_TTL_SECONDS', 60, 604_800),
  };
  const verification = {
    verifyUrl: linkTemplateSetting(env, 'VERIFY_EMAIL_URL'),
    tokenTtlSeconds: integerSetting(env, 'VERIFY_EMAIL_TOKEN_TTL_SECONDS', 60, 2_592_000),
    required: booleanSetting(env, 'REQUIRE_VERIFIED_EMAIL'),
  };
  return {
    port: integerSetting(env, 'PORT', 0, 65535),
    host: hostSetting(env),
    nodeEnv,
    database,
    tokens: tokenConfig(env, nodeEnv, database, warnings),
    corsOrigins: originsSetting(env, 'CORS_ORIGINS'),
    trustProxy: integerSetting(env, 'TRUST_PROXY', 0, 10),
    rateLimits: {
      loginMaxFailuresPerEmailAndAddress: integerSetting(env, 'LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS', 0, 1_000_000),
      loginMaxFailuresPerAddress: integerSetting(env, 'LOGIN_MAX_FAILURES_PER_ADDRESS', 0, 1_000_000),
      loginMaxAttemptsPerAddress: integerSetting(env, 'LOGIN_MAX_ATTEMPTS_PER_ADDRESS', 0, 1_000_000),
      loginMaxFailuresPerEmail: integerSetting(env, 'LOGIN_MAX_FAILURES_PER_EMAIL', 0, 1_000_000),
      loginFailureWindowSeconds: integerSetting(env, 'LOGIN_FAILURE_WINDOW_SECONDS', 1, 86_400),
      registrationsPerAddress: integerSetting(env, 'REGISTRATIONS_PER_ADDRESS', 0, 1_000_000),
      passwordChangeMaxFailuresPerUser: integerSetting(env, 'PASSWORD_CHANGE_MAX_FAILURES_PER_USER', 0, 1_000_000),
      passwordResetRequestsPerEmail: integerSetting(env, 'PASSWORD_RESET_REQUESTS_PER_EMAIL', 0, 1_000_000),
      passwordResetRequestsPerAddress: integerSetting(env, 'PASSWORD_RESET_REQUESTS_PER_ADDRESS', 0, 1_000_000),
      emailVerificationRequestsPerUser: integerSetting(env, 'EMAIL_VERIFICATION_REQUESTS_PER_USER', 0, 1_000_000),
      mailPerRecipient: integerSetting(env, 'MAIL_PER_RECIPIENT', 0, 1_000_000),
      mfaMaxFailuresPerUser: integerSetting(env, 'MFA_MAX_FAILURES_PER_USER', 0, 1_000_000),
    },
    secondFactor: {
      issuer: env.MFA_ISSUER?.trim() || defaultOf('MFA_ISSUER'),
      challengeTtlSeconds: integerSetting(env, 'MFA_TOKEN_TTL_SECONDS', 1, 3600),
      reauthMaxAgeSeconds: integerSetting(env, 'REAUTH_MAX_AGE_SECONDS', 1, 86_400),
      requiredForRoles: rolesSetting(env, 'MFA_REQUIRED_ROLES'),
    },
    bootstrapAdmin: bootstrapAdminFrom(env),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, defaultOf('LOG_LEVEL')),
    logPretty: booleanSetting(env, 'LOG_PRETTY'),
    usersListRequiresAuth: booleanSetting(env, 'USERS_LIST_REQUIRES_AUTH'),
    validateResponses: booleanSetting(env, 'VALIDATE_RESPONSES', nodeEnv !== 'production'),
    migrateOnStart: booleanSetting(env, 'MIGRATE_ON_START'),
    webConcurrency,
    shutdownGraceSeconds: integerSetting(env, 'SHUTDOWN_GRACE_SECONDS', 0, 600),
    shutdownReadinessDelaySeconds: integerSetting(env, 'SHUTDOWN_READINESS_DELAY_SECONDS', 0, 600),
    recovery,
    verification,
    emailRevert: {
      revertUrl: linkTemplateSetting(env, 'REVERT_EMAIL_URL'),
      tokenTtlSeconds: integerSetting(env, 'EMAIL_REVERT_TOKEN_TTL_SECONDS', 60, 2_592_000),
    },
    mail: {
      smtpUrl: smtpUrlSetting(env),
      from: env.MAIL_FROM || defaultOf('MAIL_FROM'),
      pollMs: integerSetting(env, 'MAIL_POLL_MS', 50, 3_600_000),
    },
    retention: retentionFrom(env, Math.max(recovery.tokenTtlSeconds, verification.tokenTtlSeconds)),
    connections: {
      headersTimeoutMs: integerSetting(env, 'HEADERS_TIMEOUT_SECONDS', 1, 300) * 1000,
      maxConnections: integerSetting(env, 'MAX_CONNECTIONS', 1, 1_000_000),
    },
    hashing: {
      // Default: all cores but one, shared among the workers, at least one each.
      concurrency: integerSetting(
        env,
        'PASSWORD_HASH_CONCURRENCY',
        1,
        64,
        Math.max(1, Math.floor((availableParallelism() - 1) / webConcurrency)),
      ),
      maxQueuedSecondsPerRequester: decimalSetting(env, 'PASSWORD_HASH_QUEUE_SECONDS_PER_ADDRESS', 0.001, 600),
      maxQueuedSeconds: decimalSetting(env, 'PASSWORD_HASH_QUEUE_SECONDS', 0.001, 3600),
    },
    metrics: { enabled: booleanSetting(env, 'METRICS_ENABLED'), token: metricsToken(env) },
    warnings,
  };
}

function databaseFrom(env: Env): DatabaseConfig {
  const url = env.DATABASE_URL || defaultOf('DATABASE_URL');
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length);
    if (filename === '') throw new ConfigError('DATABASE_URL: sqlite: needs a file path or :memory:');
    return { client: 'sqlite', filename: filename === ':memory:' ? filename : resolve(filename) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return {
      client: 'postgres',
      connectionString: url,
      poolMax: integerSetting(env, 'DB_POOL_MAX', 1, 1000),
      preparedStatements: booleanSetting(env, 'DB_PREPARED_STATEMENTS'),
      statementTimeoutMs: integerSetting(env, 'DB_STATEMENT_TIMEOUT_MS', 0, 3_600_000),
      connectTimeoutMs: integerSetting(env, 'DB_CONNECT_TIMEOUT_MS', 100, 600_000),
    };
  }
  throw new ConfigError('DATABASE_URL must be sqlite:PATH, sqlite::memory: or postgres://user:pass@host:port/db');
}

/** `longestLinkSeconds`: how long the longest-lived link a message may carry works. */
function retentionFrom(env: Env, longestLinkSeconds: number): RetentionSettings {
  const mailDays = integerSetting(env, 'MAIL_RETENTION_DAYS', 0, 36_500);
  // A message kept waiting (no SMTP_URL, or a long outage) must not go while its link still works.
  if (mailDays > 0 && mailDays * 86_400 < longestLinkSeconds) {
    throw new ConfigError(
      `MAIL_RETENTION_DAYS (${mailDays}) must be 0 or at least the longest link lifetime (${Math.ceil(longestLinkSeconds / 86_400)} days): a message must not go while its link works`,
    );
  }
  return { auditDays: integerSetting(env, 'AUDIT_RETENTION_DAYS', 0, 36_500), mailDays };
}

const TOKEN_ALGORITHMS = ['ES256', 'HS256'] as const;

function tokenConfig(env: Env, nodeEnv: string, database: DatabaseConfig, warnings: string[]): TokenConfig {
  const algorithm = oneOf(env, 'JWT_ALGORITHM', TOKEN_ALGORITHMS, defaultOf('JWT_ALGORITHM'));
  const accessTokenTtlSeconds = integerSetting(env, 'JWT_TTL_SECONDS', 1, 31_536_000);
  const sessionTtlSeconds = integerSetting(env, 'SESSION_TTL_SECONDS', 60, 31_536_000);
  if (sessionTtlSeconds < accessTokenTtlSeconds) {
    throw new ConfigError(
      `SESSION_TTL_SECONDS (${sessionTtlSeconds}) must be at least JWT_TTL_SECONDS (${accessTokenTtlSeconds}): a session outlives its access tokens`,
    );
  }
  let signing: TokenSigning;
  if (algorithm === 'HS256') {
    signing = { algorithm, secret: resolveSecret(env, 'JWT_SECRET', 'jwt-secret', nodeEnv, database, warnings) };
  } else {
    if (env.JWT_SECRET) {
      warnings.push('JWT_SECRET is set but not used: tokens are signed with ES256 keys (JWT_ALGORITHM=HS256 uses it)');
    }
    signing = {
      algorithm,
      keysSecret: resolveSecret(env, 'SIGNING_KEYS_SECRET', 'signing-keys-secret', nodeEnv, database, warnings),
    };
  }
  return {
    signing,
    accessTokenTtlSeconds,
    sessionTtlSeconds,
    refreshReuseGraceSeconds: integerSetting(env, 'REFRESH_TOKEN_REUSE_GRACE_SECONDS', 0, 300),
    jwksMaxAgeSeconds: integerSetting(env, 'JWKS_MAX_AGE_SECONDS', 0, 86_400),
    issuer: env.JWT_ISSUER || defaultOf('JWT_ISSUER'),
    audience: env.JWT_AUDIENCE || defaultOf('JWT_AUDIENCE'),
  };
}

// Outside production a missing secret is generated once and kept beside the
// SQLite file (mode 600), so tokens survive restarts; production must set one.
function resolveSecret(
  env: Env,
  name: 'JWT_SECRET' | 'SIGNING_KEYS_SECRET',
  fileName: string,
  nodeEnv: string,
  database: DatabaseConfig,
  warnings: string[],
): string {
  const value = env[name];
  if (value !== undefined && value !== '') {
    if (value.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(`${name} must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    return value;
  }
  if (nodeEnv === 'production') {
    throw new ConfigError(`${name} is required when NODE_ENV=production`);
  }
  if (database.client === 'postgres') {
    throw new ConfigError(`${name} is required with PostgreSQL: every instance must use the same one`);
  }
  if (database.filename === ':memory:') {
    warnings.push(`${name} is not set: using a random one for this process only`);
    return randomBytes(48).toString('base64url');
  }
  const secretFile = resolve(dirname(database.filename), fileName);
  try {
    if (!existsSync(secretFile)) {
      mkdirSync(dirname(secretFile), { recursive: true, mode: 0o700 });
      const secret = randomBytes(48).toString('base64url');
      try {
        writeFileSync(secretFile, secret, { mode: 0o600, flag: 'wx' });
        warnings.push(`${name} is not set: generated one and kept it in ${secretFile}`);
        return secret;
      } catch (error) {
        // Another process starting at the same moment wrote it first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const kept = readFileSync(secretFile, 'utf8').trim();
    if (kept.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(
        `${secretFile} holds fewer than ${MIN_SECRET_LENGTH} characters: delete it to generate a new secret`,
      );
    }
    return kept;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${name} is not set and ${secretFile} can't be used: ${(error as Error).message}`);
  }
}

function bootstrapAdminFrom(env: Env): BootstrapAdmin | undefined {
  const { ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = env;
  if (email === undefined && password === undefined) return undefined;
  if (email === undefined || password === undefined) {
    throw new ConfigError('ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  return { email, password, userName: env.ADMIN_USER_NAME ?? defaultOf('ADMIN_USER_NAME') };
}

function integerSetting(env: Env, name: SettingName, min: number, max: number, fallback?: number): number {
  return numberSetting(env, name, { min, max, whole: true }, fallback);
}

function decimalSetting(env: Env, name: SettingName, min: number, max: number, fallback?: number): number {
  return numberSetting(env, name, { min, max, whole: false }, fallback);
}

function numberSetting(
  env: Env,
  name: SettingName,
  { min, max, whole }: { min: number; max: number; whole: boolean },
  fallback = fixedDefault(name, 'number'),
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(whole ? /^\d+$/ : /^\d+(\.\d+)?$/).test(raw.trim()) || value < min || value > max) {
    const kind = whole ? 'a whole number' : 'a number';
    throw new ConfigError(`${name} must be ${kind} from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** A setting's fixed default from src/settings.ts, of the type its parser needs. */
function fixedDefault<K extends 'number' | 'boolean'>(
  name: SettingName,
  kind: K,
): K extends 'number' ? number : boolean {
  const value = (SETTINGS[name] as Setting).default;
  if (typeof value !== kind) throw new Error(`src/settings.ts gives ${name} no ${kind} default`);
  return value as K extends 'number' ? number : boolean;
}

/** A link to the app's page, with `{token}` where the token goes. */
function linkTemplateSetting(env: Env, name: 'RESET_PASSWORD_URL' | 'VERIFY_EMAIL_URL' | 'REVERT_EMAIL_URL'): string {
  const template = env[name] || defaultOf(name);
  let valid = false;
  try {
    valid = /^https?:$/.test(new URL(template.replace('{token}', 'token')).protocol) && template.includes('{token}');
  } catch {
    valid = false;
  }
  if (!valid) throw new ConfigError(`${name} must be an http(s) URL containing {token}, got "${template}"`);
  return template;
}

function smtpUrlSetting(env: Env): string | undefined {
  const url = env.SMTP_URL;
  if (url === undefined || url === '') return undefined;
  if (!/^smtps?:\/\/[^/]+/.test(url)) {
    throw new ConfigError('SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://[user:pass@]host[:port]');
  }
  return url;
}

function metricsToken(env: Env): string | undefined {
  const token = env.METRICS_TOKEN;
  if (token === undefined || token === '') return undefined;
  if (token.length < 16) throw new ConfigError('METRICS_TOKEN must be at least 16 characters');
  return token;
}

function hostSetting(env: Env): string {
  const host = env.HOST ?? defaultOf('HOST');
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new ConfigError(`HOST must be an address or host name, got "${host}"`);
  return host;
}

function rolesSetting(env: Env, name: SettingName): Role[] {
  const roles = (env[name] ?? '')
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
  for (const role of roles) {
    if (!ROLES.includes(role as Role))
      throw new ConfigError(`${name} must list roles of ${ROLES.join(', ')}, got "${role}"`);
  }
  return [...new Set(roles as Role[])];
}

function originsSetting(env: Env, name: string): string[] {
  const origins = (env[name] ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(`${name} must list origins like https://app.example.com, got "${origin}"`);
    }
  }
  return origins;
}

function booleanSetting(env: Env, name: SettingName, fallback = fixedDefault(name, 'boolean')): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
}
