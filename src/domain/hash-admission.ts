// The one admission point for password hashing: who may hash now, who waits,
// and who is turned away.
import { isIPv6 } from 'node:net';
import { Overloaded } from './errors.js';

export interface HashingBudget {
  /**
   * How many hashes run at once. argon2 runs on libuv's thread pool, off the
   * event loop, but on the same cores: with as many hashes as cores, token
   * checks wait for CPU behind them. Leaving a core to the event loop keeps
   * them fast while logins run at full speed.
   */
  concurrency: number;
  /** The most work, in seconds until done, one requester may have in turns. */
  maxQueuedSecondsPerRequester: number;
  /** The most work, in seconds until done, in all turns. */
  maxQueuedSeconds: number;
}

/** A request's place in the hashing: its jobs run one by one, each in its turn with other requesters'. */
export interface AdmissionTurn {
  /** Runs one job in this turn; throws Overloaded if the turn was shed. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /**
   * Runs the request's whole work in one slot, its jobs inside it running at
   * once: its database writes then wait in turn by requester too, not in
   * arrival order behind a flood's.
   */
  hold<T>(work: () => Promise<T>): Promise<T>;
  /** Ends the turn; harmless when already left. */
  leave(): void;
}

/**
 * Admits requests to hashing, at most `concurrency` hashes at once. A request
 * takes a turn when it starts, before its other work (its limits' writes),
 * and counts in the budgets from then until it leaves, as one job however
 * many it runs: work that would make a flood wait past a budget is refused
 * before it costs the database anything. Jobs wait in one queue per requester
 * (a client address; IPv6 by /64), served in turn, so a flood from some
 * addresses can't starve the rest: a requester's first job waits for at most
 * one job of each other requester. A request whose writes a flood would make
 * wait (a login) holds its slot for all its work. When the budget for all is full, a
 * requester with no turn still gets in: the one with the most turns gives up
 * its newest, so the budget keeps room for newcomers.
 */
export class HashAdmission {
  private running = 0;
  /** Turns counted in the budgets (taken, neither left nor shed), per requester, oldest first. */
  private readonly live = new Map<string, Turn[]>();
  private liveCount = 0;
  private readonly waiting = new Map<string, Turn[]>();
  /** Requesters with jobs waiting, in the order they are served. */
  private readonly rotation: string[] = [];
  /** What a hash takes, in milliseconds: where a job comes in the queue. */
  private hashMs: number;
  /**
   * What a turn costs, in seconds: how long apart turns end while any are
   * live. Not what its hashes take: a request's other work (its database
   * writes, which wait in line too) may cost more, and the budgets promise
   * seconds until done.
   */
  private secondsPerTurn: number;
  /** The measure in progress: time with turns live, and turns left, since `from`. */
  private readonly measure = { from: 0, busyMs: 0, left: 0 };

  constructor(
    private readonly budget: HashingBudget,
    /** What one hash took, before anything is measured. */
    hashMs: number,
  ) {
    this.hashMs = Math.max(1, hashMs);
    this.secondsPerTurn = this.hashMs / 1000 / budget.concurrency;
  }

  /** A turn taken now, or Overloaded at once. */
  enter(requester: string): AdmissionTurn {
    const group = requesterGroup(requester);
    const { refusal, shed } = this.judge(group);
    if (refusal) throw refusal;
    if (shed) this.shed(shed);
    const turn: Turn = { requester: group, state: 'live', running: false };
    this.count(turn);
    return {
      run: (task) => (turn.holding ? task() : this.runIn(turn, task)),
      hold: (work) =>
        this.runIn(turn, () => {
          turn.holding = true;
          return work();
        }),
      leave: () => this.leave(turn),
    };
  }

  /** One job in a turn of its own. */
  async run<T>(requester: string, task: () => Promise<T>): Promise<T> {
    const turn = this.enter(requester);
    try {
      return await turn.run(task);
    } finally {
      turn.leave();
    }
  }

  /** Seconds until `turns` turns are done at the measured speed. */
  private secondsFor(turns: number): number {
    return turns * this.secondsPerTurn;
  }

  /** Seconds until `jobs` hashes are done at the measured speed. */
  private hashSecondsFor(jobs: number): number {
    return (jobs * this.hashMs) / 1000 / this.budget.concurrency;
  }

  private refusal(seconds: number): Overloaded {
    return new Overloaded(Math.max(1, Math.ceil(seconds)));
  }

  private liveOf(requester: string): number {
    return this.live.get(requester)?.length ?? 0;
  }

  /**
   * Whether `requester` may take a turn now: refused, or admitted, maybe by
   * shedding another requester's newest turn. Changes nothing.
   */
  private judge(requester: string): { refusal?: Overloaded; shed?: Turn } {
    const own = this.liveOf(requester);
    const ownSeconds = this.secondsFor(own + 1);
    if (ownSeconds > this.budget.maxQueuedSecondsPerRequester) return { refusal: this.refusal(ownSeconds) };
    // Served in turn, this turn's job waits for as many hashes of each other
    // requester as this one has turns before it, and one more.
    let ahead = own;
    for (const [other, turns] of this.live) {
      if (other !== requester) ahead += Math.min(turns.length, own + 1);
    }
    const wait = this.hashSecondsFor(ahead + 1);
    if (wait > this.budget.maxQueuedSeconds) return { refusal: this.refusal(wait) };
    const all = this.secondsFor(this.liveCount + 1);
    if (all <= this.budget.maxQueuedSeconds) return {};
    // Only a requester with no turn gets in by shedding: requesters of the
    // flood are refused at once, and don't shed each other's turns (a shed
    // turn may have written its limits' places already).
    const shed = own === 0 ? this.newestOfLongest() : undefined;
    return shed ? { shed } : { refusal: this.refusal(all) };
  }

  /** The newest turn not running of the requester with the most, unless that is its only one. */
  private newestOfLongest(): Turn | undefined {
    let longest: Turn[] = [];
    for (const turns of this.live.values()) if (turns.length > longest.length) longest = turns;
    return longest.length > 1 ? longest.findLast((turn) => !turn.running) : undefined;
  }

  private count(turn: Turn): void {
    if (this.liveCount === 0) this.measure.from = performance.now();
    const turns = this.live.get(turn.requester);
    if (turns) turns.push(turn);
    else this.live.set(turn.requester, [turn]);
    this.liveCount += 1;
  }

  private uncount(turn: Turn): void {
    const turns = this.live.get(turn.requester)!;
    turns.splice(turns.indexOf(turn), 1);
    if (turns.length === 0) this.live.delete(turn.requester);
    this.liveCount -= 1;
  }

  /** Stops counting the turn; its job waiting, or its next one, is refused. */
  private shed(turn: Turn): void {
    this.uncount(turn);
    const refusal = this.refusal(this.secondsFor(this.liveOf(turn.requester) + 1));
    turn.state = refusal;
    const waiter = turn.waiter;
    if (!waiter) return;
    turn.waiter = undefined;
    const queue = this.waiting.get(turn.requester)!;
    queue.splice(queue.indexOf(turn), 1);
    if (queue.length === 0) {
      this.waiting.delete(turn.requester);
      this.rotation.splice(this.rotation.indexOf(turn.requester), 1);
    }
    waiter.refuse(refusal);
  }

  private leave(turn: Turn): void {
    if (turn.state !== 'live') return; // left already, or shed (no longer counted)
    this.measureLeaving();
    this.uncount(turn);
    turn.state = 'left';
  }

  /**
   * Turns end in bursts (a batch of database writes done at once) and stalls:
   * the cost is taken over a second of busy time, not from one gap between two.
   */
  private measureLeaving(): void {
    const now = performance.now();
    const measure = this.measure;
    measure.busyMs += now - measure.from;
    measure.from = now;
    measure.left += 1;
    if (measure.busyMs < MEASURE_OVER_MS) return;
    this.secondsPerTurn = (this.secondsPerTurn + measure.busyMs / measure.left / 1000) / 2;
    measure.busyMs = 0;
    measure.left = 0;
  }

  private async runIn<T>(turn: Turn, task: () => Promise<T>): Promise<T> {
    if (turn.state instanceof Overloaded) throw turn.state;
    if (turn.state === 'left') throw new Error('a hashing turn was used after it was left');
    // A slot is counted by whoever hands it over, so no arrival can slip in
    // between, and the turn is marked running with it, so it can't be shed.
    if (this.running < this.budget.concurrency) {
      this.running += 1;
      turn.running = true;
    } else {
      await this.waitTurn(turn);
    }
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.hashMs = 0.8 * this.hashMs + 0.2 * (performance.now() - started);
      turn.running = false;
      this.running -= 1;
      this.startNext();
    }
  }

  private waitTurn(turn: Turn): Promise<void> {
    return new Promise((start, refuse) => {
      let queue = this.waiting.get(turn.requester);
      if (!queue) {
        queue = [];
        this.waiting.set(turn.requester, queue);
        this.rotation.push(turn.requester);
      }
      queue.push(turn);
      turn.waiter = { start, refuse };
    });
  }

  private startNext(): void {
    const requester = this.rotation.shift();
    if (requester === undefined) return;
    const queue = this.waiting.get(requester)!;
    const turn = queue.shift()!;
    if (queue.length > 0) this.rotation.push(requester);
    else this.waiting.delete(requester);
    this.running += 1;
    turn.running = true;
    const { start } = turn.waiter!;
    turn.waiter = undefined;
    start();
  }
}

const MEASURE_OVER_MS = 1000;

interface Turn {
  readonly requester: string;
  /** Live until left; a shed turn holds what its next job is told. */
  state: 'live' | 'left' | Overloaded;
  /** Its job has a slot: it can't be shed. */
  running: boolean;
  /** Its request holds a slot for all its work (AdmissionTurn.hold). */
  holding?: boolean;
  /** Set while its job waits in the queue. */
  waiter?: { start: () => void; refuse: (refusal: Overloaded) => void };
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
