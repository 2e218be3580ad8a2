// `npm run migrate`: applies pending migrations and exits, for deployments
// that run them as a separate step (with MIGRATE_ON_START=false on the
// instances). `npm run migrate -- --unlock` frees a lock left by a crash.
import { ConfigError, loadConfig } from './config.js';
import { migrateToLatest, openDatabase, unlockMigrations } from './storage/database.js';

try {
  const config = loadConfig();
  const db = openDatabase(config.database);
  try {
    if (process.argv.includes('--unlock')) {
      await unlockMigrations(db);
      console.log('Migration lock freed.');
    } else {
      await migrateToLatest(db, (reason) => console.log(`Waiting: ${reason}`));
      console.log('Migrations are up to date.');
    }
  } finally {
    await db.destroy();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : `Migration failed: ${(error as Error).message}`);
  process.exit(1);
}
