// The composition root: opens storage, builds the domain services and the app.
// Used by src/server.ts, src/cli.ts and the tests alike.
import type { Express } from 'express';
import type { Knex } from 'knex';
import { buildApp } from './app.js';
import { ConfigError, type BootstrapAdmin, type Config, type DatabaseConfig } from './config.js';
import { DomainError } from './domain/errors.js';
import type { OutboxRepository, Store } from './domain/ports.js';
import { normalizeProfile } from './domain/normalize.js';
import { createPasswordHasher } from './domain/passwords.js';
import { rateLimitSettings } from './domain/rate-limits.js';
import { RecoveryService } from './domain/recovery.js';
import { Retention } from './domain/retention.js';
import { EmailRevert } from './domain/email-revert.js';
import { RecentAuthentication } from './domain/recent-authentication.js';
import { SecondFactorService } from './domain/second-factor.js';
import { Sealer } from './domain/sealing.js';
import { SessionService } from './domain/sessions.js';
import { KEY_RING_REFRESH_MS, KeySecret, KeySecretMismatch, SigningKeys } from './domain/signing-keys.js';
import { keyRingKeys, sharedSecretKeys, TokenSigner, type TokenKeys } from './domain/tokens.js';
import { UserService } from './domain/users.js';
import { EmailVerification } from './domain/verification.js';
import { Administration } from './domain/administration.js';
import { describeSafely } from './logger.js';
import { FALLBACK_TEXTS } from './http/errors.js';
import { createMetrics } from './http/metrics.js';
import { startDelivery } from './mail/loop.js';
import { smtpTransport } from './mail/smtp.js';
import { operationsOf } from './http/operations.js';
import { componentSchemaValidator, loadSpec, type SpecDocument } from './contract/spec.js';
import type { Logger } from './logger.js';
import {
  checkReadiness,
  describeDatabase,
  isMigrated,
  migrateToLatest,
  openDatabase,
  type Readiness,
} from './storage/database.js';
import { openHotReads, type HotReads } from './storage/reads.js';
import { createStore } from './storage/store.js';

const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

/** Storage and the domain services, without HTTP: what the CLI needs. */
export interface Domain {
  db: Knex;
  spec: SpecDocument;
  users: UserService;
  sessions: SessionService;
  recovery: RecoveryService;
  verification: EmailVerification;
  administration: Administration;
  secondFactor: SecondFactorService;
  recent: RecentAuthentication;
  emailRevert: EmailRevert;
  /** The ES256 signing keys (`npm run cli -- keys`); undefined with JWT_ALGORITHM=HS256. */
  signingKeys: SigningKeys | undefined;
  /** The mail outbox (`npm run cli -- outbox` reads it; the service delivers it). */
  outbox: OutboxRepository;
  /** Prunes the audit trail and the outbox past AUDIT_RETENTION_DAYS and MAIL_RETENTION_DAYS. */
  retention: Retention;
  /** Whether the database answers on both connections and is migrated. */
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}

export interface Service extends Domain {
  app: Express;
  /**
   * From now on readiness answers 503 "shutting down", so load balancers stop
   * sending traffic, and no more mail is claimed: the message in flight has
   * the time requests have (readiness delay and grace), then it is abandoned.
   */
  beginShutdown(): void;
}

/** Opens the database, migrates it (unless MIGRATE_ON_START=false) and builds the services. */
export async function openDomain(config: Config, logger: Logger): Promise<Domain> {
  const spec = loadSpec();
  const db = openDatabase(config.database);
  let hotReads: HotReads | undefined;
  const close = async () => {
    try {
      await hotReads?.close();
    } finally {
      await db.destroy();
    }
  };
  try {
    await prepareSchema(db, config, logger);
    const reads = (hotReads = openHotReads(config.database, db));
    await firstRead(config.database, () => reads.countUsers(), " through the hot reads' connection");
    const store = createStore(db, hotReads);
    const hasher = await createPasswordHasher(config.hashing);
    const limits = rateLimitSettings(config.rateLimits);
    const { tokens } = config;
    const { keys, signingKeys } = await openTokenKeys(store, config);
    const signer = new TokenSigner(keys, { issuer: tokens.issuer, audience: tokens.audience });
    const verification = new EmailVerification(store, {
      verifyUrl: config.verification.verifyUrl,
      tokenTtlSeconds: config.verification.tokenTtlSeconds,
      mailPerUser: limits.verificationMailPerUser,
      mailPerRecipient: limits.mailPerRecipient,
    });
    const sessions = new SessionService(store, hasher, signer, {
      accessTokenTtlSeconds: tokens.accessTokenTtlSeconds,
      sessionTtlSeconds: tokens.sessionTtlSeconds,
      refreshReuseGraceSeconds: tokens.refreshReuseGraceSeconds,
      limits,
      refuseUnverifiedWith: config.verification.required ? verification : undefined,
      challengeTtlSeconds: config.secondFactor.challengeTtlSeconds,
    });
    // TOTP secrets are sealed under a key of their own, derived from the
    // secret that protects the signing keys (JWT_SECRET with HS256).
    const { signing } = config.tokens;
    const recent = new RecentAuthentication(config.secondFactor.reauthMaxAgeSeconds);
    const secondFactor = new SecondFactorService(
      store,
      hasher,
      sessions,
      new Sealer(signing.algorithm === 'ES256' ? signing.keysSecret : signing.secret, 'totp secrets v1'),
      { issuer: config.secondFactor.issuer, recent, limits },
    );
    const emailRevert = new EmailRevert(store, config.emailRevert);
    const users = new UserService(store, hasher, sessions, verification, limits, { recent, revert: emailRevert });
    const recovery = new RecoveryService(
      store,
      hasher,
      {
        ...config.recovery,
        requestsPerEmail: limits.resetRequestsPerEmail,
        requestsPerAddress: limits.resetRequestsPerAddress,
        mailPerRecipient: limits.mailPerRecipient,
      },
      (error) => logger.warn({ failure: describeSafely(error) }, 'password reset request failed after it was answered'),
    );
    if (config.bootstrapAdmin) await ensureBootstrapAdmin(users, spec, config.bootstrapAdmin, logger);
    const administration = new Administration(store);
    return {
      db,
      spec,
      users,
      sessions,
      recovery,
      verification,
      administration,
      secondFactor,
      recent,
      emailRevert,
      signingKeys,
      outbox: store.outbox,
      retention: new Retention(store, config.retention),
      readiness: () => checkReadiness(db, reads),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The domain plus the HTTP app and the background pruning of expired sessions. */
export async function createService(config: Config, logger: Logger): Promise<Service> {
  const domain = await openDomain(config, logger);
  const { spec, users, sessions, recovery, verification, administration, secondFactor, signingKeys } = domain;
  const { recent, emailRevert } = domain;
  // One after the other: on SQLite they would only wait for each other's write lock.
  const pruneExpired = async () => {
    await sessions
      .pruneExpired()
      .catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'session pruning failed'));
    await domain.retention
      .prune()
      .catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'retention pruning failed'));
  };
  await pruneExpired();
  const pruneTimer = setInterval(() => void pruneExpired(), PRUNE_INTERVAL_MS).unref();
  // Rotations and retirements by any instance or the CLI reach this one within a second.
  const keyTimer =
    signingKeys &&
    setInterval(() => {
      signingKeys.ring
        .refresh()
        .catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'reading the signing keys failed'));
    }, KEY_RING_REFRESH_MS).unref();
  const { smtpUrl, from, pollMs } = config.mail;
  const delivery = smtpUrl ? startDelivery(domain.outbox, smtpTransport(smtpUrl, from), pollMs, logger) : undefined;

  let shuttingDown = false;
  const promisedWork = new Set<Promise<void>>();
  const operations = operationsOf(spec, {
    // Settings an operation's `x-token-required-when` may name.
    enabled: new Set(config.usersListRequiresAuth ? ['USERS_LIST_REQUIRES_AUTH'] : []),
    fallbackTexts: FALLBACK_TEXTS,
  });
  const app = buildApp({
    users,
    sessions,
    recovery,
    verification,
    administration,
    secondFactor,
    recent,
    emailRevert,
    publishedKeys: {
      current: () => signingKeys?.ring.publicJwks() ?? [],
      maxAgeSeconds: config.tokens.jwksMaxAgeSeconds,
    },
    readiness: async () => (shuttingDown ? 'shutting down' : domain.readiness()),
    draining: () => shuttingDown,
    promised: (work) => {
      promisedWork.add(work);
      void work.finally(() => promisedWork.delete(work));
    },
    metrics: createMetrics(config.metrics, () => sessions.countActive(), operations),
    spec,
    operations,
    logger,
    settings: {
      validateResponses: config.validateResponses,
      corsOrigins: config.corsOrigins,
      trustProxy: config.trustProxy,
      requireVerifiedEmail: config.verification.required,
      mfaRequiredRoles: config.secondFactor.requiredForRoles,
    },
  });
  return {
    ...domain,
    app,
    beginShutdown() {
      shuttingDown = true;
      void delivery?.stop((config.shutdownReadinessDelaySeconds + config.shutdownGraceSeconds) * 1000);
    },
    async close() {
      clearInterval(pruneTimer);
      clearInterval(keyTimer);
      // A 202 for a reset link promised the mail: it is queued before the database closes.
      await Promise.allSettled(promisedWork);
      await delivery?.stop();
      await domain.close();
    },
  };
}

/**
 * Migrates and creates the bootstrap admin once, before worker processes
 * start (cluster mode); the workers then skip both.
 */
export async function prepareDatabase(config: Config, logger: Logger): Promise<void> {
  const domain = await openDomain(config, logger);
  await domain.close();
}

/**
 * The keys tokens are signed with. With ES256 a first key is made on a new
 * database, and a SIGNING_KEYS_SECRET that does not open the keys stops start-up.
 */
async function openTokenKeys(store: Store, config: Config): Promise<{ keys: TokenKeys; signingKeys?: SigningKeys }> {
  const { signing, accessTokenTtlSeconds, jwksMaxAgeSeconds } = config.tokens;
  if (signing.algorithm === 'HS256') return { keys: sharedSecretKeys(signing.secret) };
  const signingKeys = new SigningKeys(store, new KeySecret(signing.keysSecret), {
    tokenTtlSeconds: accessTokenTtlSeconds,
    jwksMaxAgeSeconds,
  });
  try {
    await signingKeys.ensureSigningKey({ address: 'start-up', requestId: 'signing-keys' });
  } catch (error) {
    if (error instanceof KeySecretMismatch) throw new ConfigError(error.message);
    throw error;
  }
  return { keys: keyRingKeys(signingKeys.ring), signingKeys };
}

/** A first read, with the database named in its error. */
async function firstRead(database: DatabaseConfig, read: () => unknown, through = ''): Promise<void> {
  try {
    await read();
  } catch (error) {
    throw new Error(`can't reach ${describeDatabase(database)}${through}: ${describeSafely(error).message}`);
  }
}

async function prepareSchema(db: Knex, config: Config, logger: Logger): Promise<void> {
  if (config.database.client === 'postgres') await firstRead(config.database, () => db.raw('select 1'));
  if (config.migrateOnStart) {
    await migrateToLatest(db, (reason) => logger.info(`waiting for migrations: ${reason}`));
  } else if (!(await isMigrated(db))) {
    throw new Error('the database has pending migrations and MIGRATE_ON_START=false: run `npm run migrate` first');
  }
}

async function ensureBootstrapAdmin(users: UserService, spec: SpecDocument, admin: BootstrapAdmin, logger: Logger) {
  const profile = bootstrapAdminProfile(admin);
  const problems = componentSchemaValidator(spec, 'NewUser')(profile);
  if (problems.length > 0) throw new ConfigError(`ADMIN_* settings are not a valid user: ${problems.join('; ')}`);
  const outcome = await users
    .ensureAdmin(profile, { address: 'start-up', requestId: 'bootstrap-admin' })
    .catch((error: unknown) => {
      if (error instanceof DomainError && error.problem)
        throw new ConfigError(`ADMIN_PASSWORD ${error.problem.message}`);
      throw error;
    });
  if (outcome === 'created') logger.info({ email: profile.email }, 'created the bootstrap admin');
  if (outcome === 'email_taken_by_non_admin') {
    logger.warn(
      { email: profile.email },
      'ADMIN_EMAIL belongs to an existing account that is not an admin; it was left as it is and no admin was created',
    );
  }
  if (outcome === 'user_name_taken') {
    throw new ConfigError(`ADMIN_USER_NAME "${profile.user_name}" belongs to another account: choose another`);
  }
}

/** The bootstrap admin as a registration body, normalized as HTTP input is. */
function bootstrapAdminProfile(admin: BootstrapAdmin) {
  return normalizeProfile({
    email: admin.email,
    user_name: admin.userName,
    first_name: 'Admin',
    last_name: 'Admin',
    password: admin.password,
  });
}
