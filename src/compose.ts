// The composition root: opens storage, builds the domain services and the app.
// Used by src/server.ts, the tests and the contract-test runner alike.
import type { Express } from 'express';
import type { Knex } from 'knex';
import { buildApp } from './app.js';
import type { BootstrapAdmin, Config } from './config.js';
import { normalizeText } from './domain/normalize.js';
import { createPasswordHasher } from './domain/passwords.js';
import { SessionService } from './domain/sessions.js';
import { TokenSigner } from './domain/tokens.js';
import { UserService } from './domain/users.js';
import { describeSafely } from './http/errors.js';
import { componentSchemaValidator, loadSpec } from './http/spec.js';
import type { Logger } from './logger.js';
import { migrateToLatest, openDatabase } from './storage/database.js';
import { createStore } from './storage/store.js';

const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

export interface Service {
  app: Express;
  db: Knex;
  users: UserService;
  sessions: SessionService;
  /** Stops background work and closes the database. */
  close(): Promise<void>;
}

export async function createService(config: Config, logger: Logger): Promise<Service> {
  const spec = loadSpec();
  const db = openDatabase(config.database);
  try {
    await migrateToLatest(db);
    const store = createStore(db);
    const hasher = await createPasswordHasher();
    const sessions = new SessionService(store, hasher, new TokenSigner(config.jwtSecret), config.jwtTtlSeconds);
    const users = new UserService(store, hasher, sessions);

    if (config.bootstrapAdmin) {
      const admin = bootstrapAdminProfile(config.bootstrapAdmin);
      const problems = componentSchemaValidator(spec, 'NewUser')(admin);
      if (problems.length > 0) throw new Error(`ADMIN_* settings are not a valid user: ${problems.join('; ')}`);
      if (await users.ensureAdmin(admin)) logger.info({ email: admin.email }, 'created the bootstrap admin');
    }

    const pruneExpired = () =>
      sessions.pruneExpired().catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'session pruning failed'));
    await pruneExpired();
    const pruneTimer = setInterval(pruneExpired, PRUNE_INTERVAL_MS).unref();

    const app = buildApp({
      users,
      sessions,
      spec,
      logger,
      settings: { usersListRequiresAuth: config.usersListRequiresAuth, validateResponses: config.validateResponses },
    });
    return {
      app,
      db,
      users,
      sessions,
      async close() {
        clearInterval(pruneTimer);
        await db.destroy();
      },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/** The bootstrap admin as a registration body, normalized as HTTP input is. */
function bootstrapAdminProfile(admin: BootstrapAdmin) {
  return {
    email: normalizeText(admin.email),
    user_name: normalizeText(admin.userName),
    first_name: 'Admin',
    last_name: 'Admin',
    password: admin.password,
  };
}
