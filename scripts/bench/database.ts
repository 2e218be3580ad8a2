// The database every scenario meets: BENCH_USERS live users, of more made.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, SECRET, USERS } from './options.js';

// Every tenth id is deleted before measuring; the k-th live user (from 0) has id k + floor(k / 9) + 1.
export const DELETED_EVERY = 10;
export const SEEDED = USERS + Math.floor(USERS / (DELETED_EVERY - 1));
export const randomId = () => {
  const k = Math.floor(Math.random() * USERS);
  return k + Math.floor(k / (DELETED_EVERY - 1)) + 1;
};

/**
 * Seeds the users, then deletes every tenth one as an admin would: USERS
 * remain, with gaps. In a child process, so this one holds nothing of the
 * service (its modules, pool and timers) while it generates the load.
 */
export function prepareDatabase(databaseUrl: string): void {
  execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts', 'seed.ts'),
      '--users',
      String(SEEDED),
      '--delete-every',
      String(DELETED_EVERY),
      '--database',
      databaseUrl,
    ],
    // The services below must open the signing key made here.
    { stdio: 'inherit', env: { ...process.env, JWT_SECRET: SECRET, SIGNING_KEYS_SECRET: SECRET } },
  );
}
