// Password hashing behind one small interface, and the one admission point
// for its work. New hashes are argon2id at OWASP's parameters; argon2 runs on
// libuv's thread pool, so hashing never stalls the event loop (bcryptjs, pure
// JavaScript, does). bcrypt hashes imported from other systems still verify,
// and are replaced by argon2id on the next successful login.
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { Overloaded } from './errors.js';
import { canonicalPassword } from './password-policy.js';

export interface PasswordCheck {
  matches: boolean;
  /** The hash should be replaced: another algorithm, weaker parameters, or made before normalization. */
  outdated: boolean;
}

/**
 * Passwords are hashed and checked in their canonical (NFKC) form. Every
 * method takes the requester (a client address, or an operator's name):
 * each gets a fair share of the hashing, in turn with the others.
 */
export interface PasswordHasher {
  hash(password: string, requester: string): Promise<string>;
  verify(passwordHash: string, password: string, requester: string): Promise<PasswordCheck>;
  /** Spends the same time as verify on a real hash, for unknown accounts. */
  verifyAgainstNothing(password: string, requester: string): Promise<void>;
  /**
   * Throws Overloaded when a job of this requester would be refused now, so a
   * request can be turned away before it costs anything else (its limits'
   * writes). The job itself is judged again when it is queued.
   */
  checkRoom(requester: string): void;
}

export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456, // KiB
  timeCost: 2,
  parallelism: 1,
} as const;

const BCRYPT_PREFIX = /^\$2[aby]\$/;

export interface HashingBudget {
  /**
   * How many hashes run at once. argon2 runs on libuv's thread pool, off the
   * event loop, but on the same cores: with as many hashes as cores, token
   * checks wait for CPU behind them. Leaving a core to the event loop keeps
   * them fast while logins run at full speed.
   */
  concurrency: number;
  /** The most hashing work, in seconds until done, one requester may have waiting. */
  maxQueuedSecondsPerRequester: number;
  /** The most hashing work, in seconds until done, waiting in all. */
  maxQueuedSeconds: number;
}

const DEFAULT_BUDGET: HashingBudget = { concurrency: 1, maxQueuedSecondsPerRequester: 3, maxQueuedSeconds: 10 };

export async function createPasswordHasher(budget: HashingBudget = DEFAULT_BUDGET): Promise<PasswordHasher> {
  // A real argon2id hash of a random secret: checking a password against it
  // costs what a real check costs, so an unknown email can't be told apart
  // from a wrong password by timing. Making it also measures what a hash costs.
  const started = performance.now();
  const decoyHash = await argon2.hash(randomBytes(32).toString('hex'), ARGON2_OPTIONS);
  const admission = new HashAdmission(budget, performance.now() - started);

  function verifyExactly(passwordHash: string, password: string, requester: string): Promise<boolean> {
    if (BCRYPT_PREFIX.test(passwordHash)) return admission.run(requester, () => bcrypt.compare(password, passwordHash));
    return admission.run(requester, async () => {
      try {
        return await argon2.verify(passwordHash, password);
      } catch {
        return false; // not a hash this service understands
      }
    });
  }

  async function verify(passwordHash: string, password: string, requester: string): Promise<PasswordCheck> {
    const canonical = canonicalPassword(password);
    if (await verifyExactly(passwordHash, canonical, requester)) {
      return { matches: true, outdated: needsRehash(passwordHash) };
    }
    // Hashes made before passwords were normalized hold the password as it
    // was typed; they still match, once, and are then replaced.
    if (canonical !== password && (await verifyExactly(passwordHash, password, requester))) {
      return { matches: true, outdated: true };
    }
    return { matches: false, outdated: false };
  }

  return {
    hash: (password, requester) =>
      admission.run(requester, () => argon2.hash(canonicalPassword(password), ARGON2_OPTIONS)),
    verify,
    async verifyAgainstNothing(password, requester) {
      // The same steps as a wrong password on a real account, so the same
      // number of hashes: two when the password is not in canonical form.
      await verify(decoyHash, password, requester);
    },
    checkRoom(requester) {
      const { refusal } = admission.judge(requesterGroup(requester));
      if (refusal) throw refusal;
    },
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

/**
 * Runs at most `concurrency` hashes at once. The others wait in one queue per
 * requester (a client address; IPv6 by /64), served in turn, so a flood from
 * some addresses can't starve the rest: a requester's first job waits for at
 * most one job of each other requester. Work that would wait past a budget is
 * refused at once (Overloaded); when all the work waiting is past the budget
 * for all, a requester with nothing waiting still gets in: the one with the
 * longest queue gives up its newest job, so the budget keeps room for newcomers.
 */
export class HashAdmission {
  private running = 0;
  private waitingCount = 0;
  private readonly waiting = new Map<string, Waiter[]>();
  /** Requesters with jobs waiting, in the order they are served. */
  private readonly turns: string[] = [];
  /** Jobs waiting or running, per requester. */
  private readonly pending = new Map<string, number>();
  private averageMs: number;

  constructor(
    private readonly budget: HashingBudget,
    initialEstimateMs: number,
  ) {
    this.averageMs = Math.max(1, initialEstimateMs);
  }

  async run<T>(requester: string, task: () => Promise<T>): Promise<T> {
    const group = requesterGroup(requester);
    this.admit(group);
    this.pending.set(group, (this.pending.get(group) ?? 0) + 1);
    try {
      // A slot is counted by whoever hands it over, so no arrival can slip in between.
      if (this.running < this.budget.concurrency) this.running += 1;
      else await this.waitTurn(group);
      const started = performance.now();
      try {
        return await task();
      } finally {
        this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
        this.running -= 1;
        this.startNext();
      }
    } finally {
      const left = this.pending.get(group)! - 1;
      if (left === 0) this.pending.delete(group);
      else this.pending.set(group, left);
    }
  }

  /** Seconds until `jobs` hashes are done at the measured speed. */
  private secondsFor(jobs: number): number {
    return (jobs * this.averageMs) / 1000 / this.budget.concurrency;
  }

  private refusal(seconds: number): Overloaded {
    return new Overloaded(Math.max(1, Math.ceil(seconds)));
  }

  /**
   * Whether a job of `requester` may join now: refused, or admitted, maybe by
   * shedding another requester's newest job. Changes nothing.
   */
  judge(requester: string): { refusal?: Overloaded; shed?: { requester: string; queue: Waiter[] } } {
    const own = this.secondsFor((this.pending.get(requester) ?? 0) + 1);
    if (own > this.budget.maxQueuedSecondsPerRequester) return { refusal: this.refusal(own) };
    // Served in turn, this job waits for as many jobs of each other requester
    // as this one has waiting before it, and one more.
    const ownWaiting = this.waiting.get(requester)?.length ?? 0;
    let ahead = this.running + ownWaiting;
    for (const [other, queue] of this.waiting) {
      if (other !== requester) ahead += Math.min(queue.length, ownWaiting + 1);
    }
    const wait = this.secondsFor(ahead + 1);
    if (wait > this.budget.maxQueuedSeconds) return { refusal: this.refusal(wait) };
    if (this.secondsFor(this.running + this.waitingCount + 1) <= this.budget.maxQueuedSeconds) return {};
    // Only a requester with nothing waiting gets in by shedding: requesters
    // of the flood are refused at once, and don't shed each other's jobs
    // (each shed job has already written its limits' places).
    const longest = ownWaiting === 0 ? this.longestQueue() : undefined;
    if (longest === undefined || longest.queue.length <= 1) {
      return { refusal: this.refusal(this.secondsFor(this.running + this.waitingCount + 1)) };
    }
    return { shed: longest };
  }

  private admit(requester: string): void {
    const { refusal, shed: longest } = this.judge(requester);
    if (refusal) throw refusal;
    if (!longest) return;
    const shed = longest.queue.pop()!;
    if (longest.queue.length === 0) {
      this.waiting.delete(longest.requester);
      this.turns.splice(this.turns.indexOf(longest.requester), 1);
    }
    this.waitingCount -= 1;
    shed.refuse(this.refusal(this.secondsFor(longest.queue.length + 1)));
  }

  private longestQueue(): { requester: string; queue: Waiter[] } | undefined {
    let longest: { requester: string; queue: Waiter[] } | undefined;
    for (const [requester, queue] of this.waiting) {
      if (!longest || queue.length > longest.queue.length) longest = { requester, queue };
    }
    return longest;
  }

  private waitTurn(requester: string): Promise<void> {
    return new Promise((start, refuse) => {
      let queue = this.waiting.get(requester);
      if (!queue) {
        queue = [];
        this.waiting.set(requester, queue);
        this.turns.push(requester);
      }
      queue.push({ start, refuse });
      this.waitingCount += 1;
    });
  }

  private startNext(): void {
    const requester = this.turns.shift();
    if (requester === undefined) return;
    const queue = this.waiting.get(requester)!;
    const { start } = queue.shift()!;
    if (queue.length > 0) this.turns.push(requester);
    else this.waiting.delete(requester);
    this.waitingCount -= 1;
    this.running += 1;
    start();
  }
}

interface Waiter {
  start: () => void;
  refuse: (refusal: Overloaded) => void;
}

/**
 * Whose turn a job waits for: an IPv6 client by its /64 (one subscriber's
 * network, which hands out the addresses inside it freely), an IPv4-mapped
 * address as its IPv4 form, anything else (IPv4, an operator's name) as is.
 */
export function requesterGroup(requester: string): string {
  if (!isIPv6(requester)) return requester;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(requester);
  if (mapped) return mapped[1];
  const [head, tail = ''] = requester.split('%')[0].split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = requester.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
