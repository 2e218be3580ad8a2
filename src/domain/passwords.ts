// Password hashing behind one small interface. New hashes are argon2id at
// OWASP's parameters; argon2 runs on libuv's thread pool, so hashing never
// stalls the event loop (bcryptjs, pure JavaScript, does). bcrypt hashes
// imported from other systems still verify, and are replaced by argon2id on
// the next successful login.
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** True when the hash should be replaced (another algorithm or weaker parameters). */
  needsRehash(passwordHash: string): boolean;
  /** Spends the same time as verify on a real hash, for unknown accounts. */
  verifyAgainstNothing(password: string): Promise<void>;
}

export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456, // KiB
  timeCost: 2,
  parallelism: 1,
} as const;

const BCRYPT_PREFIX = /^\$2[aby]\$/;

/**
 * @param concurrency how many hashes may run at once. argon2 runs on libuv's
 *   thread pool, off the event loop, but on the same cores: with as many
 *   hashes as cores, token checks wait for CPU behind them. Leaving a core
 *   to the event loop keeps them fast while logins run at full speed.
 */
export async function createPasswordHasher(concurrency = 1): Promise<PasswordHasher> {
  const limited = limitConcurrency(concurrency);
  // A real argon2id hash of a random secret: checking a password against it
  // costs what a real check costs, so an unknown email can't be told apart
  // from a wrong password by timing.
  const decoyHash = await argon2.hash(randomBytes(32).toString('hex'), ARGON2_OPTIONS);

  async function verify(passwordHash: string, password: string): Promise<boolean> {
    if (BCRYPT_PREFIX.test(passwordHash)) return limited(() => bcrypt.compare(password, passwordHash));
    try {
      return await limited(() => argon2.verify(passwordHash, password));
    } catch {
      return false; // not a hash this service understands
    }
  }

  return {
    hash: (password) => limited(() => argon2.hash(password, ARGON2_OPTIONS)),
    verify,
    needsRehash(passwordHash) {
      if (BCRYPT_PREFIX.test(passwordHash)) return true;
      try {
        return argon2.needsRehash(passwordHash, ARGON2_OPTIONS);
      } catch {
        return true;
      }
    },
    async verifyAgainstNothing(password) {
      await verify(decoyHash, password);
    },
  };
}

/** Runs at most `limit` of the given tasks at once, the rest in arrival order. */
function limitConcurrency(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}
