// Password hashing behind one small interface; its work is admitted by
// hash-admission.ts. New hashes are argon2id at OWASP's parameters; argon2
// runs on libuv's thread pool, so hashing never stalls the event loop
// (bcryptjs, pure JavaScript, does). bcrypt hashes imported from other
// systems still verify, and are replaced by argon2id on the next successful
// login.
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { HashAdmission, type AdmissionTurn, type HashingBudget } from './hash-admission.js';
import { canonicalPassword } from './password-policy.js';

export interface PasswordCheck {
  matches: boolean;
  /** The hash should be replaced: another algorithm, weaker parameters, or made before normalization. */
  outdated: boolean;
}

/** The hashing a request does in its turn (see PasswordHasher.takeTurn). */
export interface HashingTurn {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<PasswordCheck>;
  /** Spends the same time as verify on a real hash, for unknown accounts. */
  verifyAgainstNothing(password: string): Promise<void>;
  /** Runs all the request's work in its turn's slot (see AdmissionTurn.hold). */
  hold<T>(work: () => Promise<T>): Promise<T>;
  /** Ends the turn; harmless when already left. */
  leave(): void;
}

/**
 * Passwords are hashed and checked in their canonical (NFKC) form. Every
 * method takes the requester (a client address, or an operator's name):
 * each gets a fair share of the hashing, in turn with the others.
 */
export interface PasswordHasher {
  /**
   * A turn in the hashing, taken now or refused now (Overloaded), counted in
   * the budgets until it is left. A request that writes anything before it
   * hashes takes its turn first, so a busy service turns it away before that
   * work, and leaves it when done (in a `finally`). A turn may be shed for a
   * newcomer while its request does other work: its next hashing then throws
   * Overloaded.
   */
  takeTurn(requester: string): HashingTurn;
  /** The methods below each take a turn, run and leave it: for requests that hash before anything else. */
  hash(password: string, requester: string): Promise<string>;
  verify(passwordHash: string, password: string, requester: string): Promise<PasswordCheck>;
  verifyAgainstNothing(password: string, requester: string): Promise<void>;
}

export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456, // KiB
  timeCost: 2,
  parallelism: 1,
} as const;

const BCRYPT_PREFIX = /^\$2[aby]\$/;

const DEFAULT_BUDGET: HashingBudget = { concurrency: 1, maxQueuedSecondsPerRequester: 3, maxQueuedSeconds: 10 };

export async function createPasswordHasher(budget: HashingBudget = DEFAULT_BUDGET): Promise<PasswordHasher> {
  // A real argon2id hash of a random secret: checking a password against it
  // costs what a real check costs, so an unknown email can't be told apart
  // from a wrong password by timing. Making it also measures what a hash costs.
  const started = performance.now();
  const decoyHash = await argon2.hash(randomBytes(32).toString('hex'), ARGON2_OPTIONS);
  const admission = new HashAdmission(budget, performance.now() - started);

  function turnOf(turn: AdmissionTurn): HashingTurn {
    const verifyExactly = (passwordHash: string, password: string): Promise<boolean> => {
      if (BCRYPT_PREFIX.test(passwordHash)) return turn.run(() => bcrypt.compare(password, passwordHash));
      return turn.run(async () => {
        try {
          return await argon2.verify(passwordHash, password);
        } catch {
          return false; // not a hash this service understands
        }
      });
    };
    const verify = async (passwordHash: string, password: string): Promise<PasswordCheck> => {
      const canonical = canonicalPassword(password);
      if (await verifyExactly(passwordHash, canonical)) {
        return { matches: true, outdated: needsRehash(passwordHash) };
      }
      // Hashes made before passwords were normalized hold the password as it
      // was typed; they still match, once, and are then replaced.
      if (canonical !== password && (await verifyExactly(passwordHash, password))) {
        return { matches: true, outdated: true };
      }
      return { matches: false, outdated: false };
    };
    return {
      hash: (password) => turn.run(() => argon2.hash(canonicalPassword(password), ARGON2_OPTIONS)),
      verify,
      async verifyAgainstNothing(password) {
        // The same steps as a wrong password on a real account, so the same
        // number of hashes: two when the password is not in canonical form.
        await verify(decoyHash, password);
      },
      hold: (work) => turn.hold(work),
      leave: () => turn.leave(),
    };
  }

  const takeTurn = (requester: string) => turnOf(admission.enter(requester));
  async function inTurnOfItsOwn<T>(requester: string, work: (turn: HashingTurn) => Promise<T>): Promise<T> {
    const turn = takeTurn(requester);
    try {
      return await work(turn);
    } finally {
      turn.leave();
    }
  }

  return {
    takeTurn,
    hash: (password, requester) => inTurnOfItsOwn(requester, (turn) => turn.hash(password)),
    verify: (passwordHash, password, requester) =>
      inTurnOfItsOwn(requester, (turn) => turn.verify(passwordHash, password)),
    verifyAgainstNothing: (password, requester) =>
      inTurnOfItsOwn(requester, (turn) => turn.verifyAgainstNothing(password)),
  };
}

function needsRehash(passwordHash: string): boolean {
  if (BCRYPT_PREFIX.test(passwordHash)) return true;
  try {
    return argon2.needsRehash(passwordHash, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}
