// The keys access tokens are signed with (ES256). They live in the database,
// so every instance on it signs and verifies with the same ones, and each
// instance re-reads them every second (KeyRing.refresh), so a rotation or a
// retirement reaches all of them without a restart. Private keys are stored
// encrypted with a key derived from SIGNING_KEYS_SECRET (sealing.ts).
//
// A key's life: it is made as the standby, published (JWKS) at once but not
// signing. `keys rotate` schedules the standby to sign as soon as every
// cached JWKS holds it (a JWKS cache lifetime after it was made) and makes
// the next standby. When a key takes over, the one before it stays published
// until the last token it signed has expired, and never signs again. `keys
// retire` is the emergency brake: its tokens are refused at once, and when it
// was the signing key the standby signs straight away, a key that has never
// signed and that every verifier already holds.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { auditEntry } from './audit.js';
import { Sealer } from './sealing.js';
import type { RequestOrigin } from './model.js';
import type { Repositories, SigningKeyRepository, SigningKeyRow, Store } from './ports.js';

/** A public key as the JWKS publishes it (RFC 7517, 7518 §6.2). */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export type KeyState = 'standby' | 'next' | 'signing' | 'verifying' | 'expired' | 'retired';

/** A key as operators see it (`keys list`). */
export interface KeyStatus {
  kid: string;
  state: KeyState;
  createdAt: number;
  signsFrom: number;
  retiredAt: number | null;
}

/** A decryption failed: the secret is not the one the keys were sealed with. */
export class KeySecretMismatch extends Error {
  constructor(kid: string) {
    super(`SIGNING_KEYS_SECRET does not open signing key ${kid}: set the secret the keys were made with`);
    this.name = 'KeySecretMismatch';
  }
}

// A token may be checked a little after its key was replaced on a clock that is behind.
const CLOCK_LEEWAY_MS = 60_000;
// How often each instance re-reads the keys, and at most how often a token
// naming an unknown key makes it look again.
export const KEY_RING_REFRESH_MS = 1000;

/** Seals private keys with AES-256-GCM under a key derived from SIGNING_KEYS_SECRET; the kid is bound in. */
export class KeySecret {
  private readonly sealer: Sealer;

  constructor(secret: string) {
    this.sealer = new Sealer(secret, 'signing keys v1');
  }

  seal(kid: string, plaintext: Buffer): string {
    return this.sealer.seal(kid, plaintext);
  }

  open(kid: string, sealed: string): Buffer {
    const opened = this.sealer.open(kid, sealed);
    if (!opened) throw new KeySecretMismatch(kid);
    return opened;
  }
}

/** A new P-256 key pair, its private half sealed, signing from `signsFrom` (or standing by). */
function newSigningKey(secret: KeySecret, nowMs: number, signsFrom: number, standby: boolean): SigningKeyRow {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomBytes(12).toString('base64url');
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  return {
    kid,
    algorithm: 'ES256',
    public_jwk: JSON.stringify({ kty, crv, x, y }),
    private_key: secret.seal(kid, privateKey.export({ format: 'der', type: 'pkcs8' })),
    created_at: nowMs,
    signs_from: signsFrom,
    retired_at: null,
    standby,
  };
}

/**
 * What each key is doing at `nowMs`, given how long access tokens last, and
 * when that next changes (a key starts signing, or its last token expires).
 *
 * The keys that have started signing take over one after another; only the
 * latest may sign, and once another has taken over a key never signs again.
 * When the latest is retired nothing signs until another key is scheduled:
 * an older key is never brought back.
 */
export function keyStates(
  keys: readonly SigningKeyRow[],
  nowMs: number,
  tokenTtlMs: number,
): { states: Map<string, KeyState>; changesAt: number } {
  const states = new Map<string, KeyState>();
  let changesAt = Infinity;
  // A key retired before its start never signed, so it took nothing over.
  const tookOver = keys
    .filter((key) => !key.standby && key.signs_from <= nowMs && (key.retired_at ?? Infinity) >= key.signs_from)
    .sort((a, b) => a.signs_from - b.signs_from || a.kid.localeCompare(b.kid));
  for (const key of keys) {
    if (key.retired_at !== null) states.set(key.kid, 'retired');
    else if (key.standby) states.set(key.kid, 'standby');
    else if (key.signs_from > nowMs) {
      states.set(key.kid, 'next');
      changesAt = Math.min(changesAt, key.signs_from);
    } else {
      const successor = tookOver[tookOver.indexOf(key) + 1];
      if (!successor) {
        states.set(key.kid, 'signing');
        continue;
      }
      const lastTokenExpires = successor.signs_from + tokenTtlMs + CLOCK_LEEWAY_MS;
      states.set(key.kid, lastTokenExpires > nowMs ? 'verifying' : 'expired');
      if (lastTokenExpires > nowMs) changesAt = Math.min(changesAt, lastTokenExpires);
    }
  }
  return { states, changesAt };
}

const PUBLISHED: ReadonlySet<KeyState> = new Set(['standby', 'next', 'signing', 'verifying']);

/**
 * This instance's copy of the keys: which one signs, which verify, and the
 * JWKS. Reloaded from the database every KEY_RING_REFRESH_MS.
 */
export class KeyRing {
  private keys: SigningKeyRow[] = [];
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private loadedAt = 0;
  private reloading: Promise<void> | undefined;
  private readsStarted = 0;
  private readLanded = 0;
  private statesValidUntil = -Infinity;
  private states = new Map<string, KeyState>();

  constructor(
    private readonly repository: SigningKeyRepository,
    private readonly secret: KeySecret,
    private readonly tokenTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Reads the keys again; the signing key is opened at once, so a wrong
   * secret fails here. Of reads that overlap, the one started last wins.
   */
  async load(): Promise<void> {
    const read = ++this.readsStarted;
    const keys = await this.repository.list();
    if (read < this.readLanded) return;
    for (const key of keys) {
      if (!this.publicKeys.has(key.kid)) {
        const jwk = JSON.parse(key.public_jwk) as JsonWebKey;
        this.publicKeys.set(key.kid, createPublicKey({ key: jwk, format: 'jwk' }));
      }
    }
    this.readLanded = read;
    this.keys = keys;
    this.loadedAt = this.now();
    this.statesValidUntil = -Infinity;
    const signer = this.signer();
    if (signer) this.privateKeyOf(signer);
  }

  /** The periodic re-read: joins the one in flight, so a slow database does not pile them up. */
  refresh(): Promise<void> {
    this.reloading ??= this.load().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /** Loads again unless that happened within KEY_RING_REFRESH_MS (for tokens naming a key not seen yet). */
  async loadIfStale(): Promise<void> {
    if (this.now() - this.loadedAt < KEY_RING_REFRESH_MS) return;
    await this.refresh();
  }

  /** The key to sign with now. */
  signingKey(): { kid: string; key: KeyObject } {
    const signer = this.signer();
    if (!signer)
      throw new Error('no signing key is in effect: restart the service or run `npm run cli -- keys rotate`');
    return { kid: signer.kid, key: this.privateKeyOf(signer) };
  }

  /** The public key for a token naming `kid`, while tokens of that key are accepted. */
  verificationKey(kid: string): KeyObject | undefined {
    return this.accepts(kid) ? this.publicKeys.get(kid) : undefined;
  }

  accepts(kid: string): boolean {
    return PUBLISHED.has(this.currentStates().get(kid) ?? 'expired');
  }

  knows(kid: string): boolean {
    return this.publicKeys.has(kid);
  }

  /** The JWKS: every key whose tokens are, or are about to be, accepted. */
  publicJwks(): PublicJwk[] {
    return this.keys
      .filter((key) => this.accepts(key.kid))
      .map((key) => ({
        ...(JSON.parse(key.public_jwk) as Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y'>),
        kid: key.kid,
        alg: key.algorithm,
        use: 'sig',
      }));
  }

  private signer(): SigningKeyRow | undefined {
    const states = this.currentStates();
    return this.keys.find((key) => states.get(key.kid) === 'signing');
  }

  // Called for every token checked: worked out again only when a key's state changes.
  private currentStates(): Map<string, KeyState> {
    const now = this.now();
    if (now >= this.statesValidUntil) {
      const { states, changesAt } = keyStates(this.keys, now, this.tokenTtlMs);
      this.states = states;
      this.statesValidUntil = changesAt;
    }
    return this.states;
  }

  private privateKeyOf(key: SigningKeyRow): KeyObject {
    let privateKey = this.privateKeys.get(key.kid);
    if (!privateKey) {
      privateKey = createPrivateKey({
        key: this.secret.open(key.kid, key.private_key),
        format: 'der',
        type: 'pkcs8',
      });
      this.privateKeys.set(key.kid, privateKey);
    }
    return privateKey;
  }
}

export interface SigningKeySettings {
  /** How long access tokens last: a replaced key stays published that long. */
  tokenTtlSeconds: number;
  /** How long verifiers may cache the JWKS: a new key is published that long (and a little more) before it signs. */
  jwksMaxAgeSeconds: number;
  now?: () => number;
}

/** Making, rotating and retiring keys: one at a time, under the keys' lock. */
export class SigningKeys {
  readonly ring: KeyRing;
  private readonly now: () => number;
  private readonly publishAheadMs: number;
  private readonly tokenTtlMs: number;

  constructor(
    private readonly store: Store,
    private readonly secret: KeySecret,
    settings: SigningKeySettings,
  ) {
    this.now = settings.now ?? Date.now;
    this.tokenTtlMs = settings.tokenTtlSeconds * 1000;
    // Every instance has re-read the keys, and every cached JWKS has expired, before the key signs.
    this.publishAheadMs = settings.jwksMaxAgeSeconds * 1000 + 2 * KEY_RING_REFRESH_MS;
    this.ring = new KeyRing(store.signingKeys, secret, this.tokenTtlMs, this.now);
  }

  /** On start-up: makes sure a key signs (a new database) and one stands by, then loads the ring. */
  async ensureSigningKey(origin: RequestOrigin): Promise<void> {
    await this.changeKeys((repositories, now) => this.keepSignerAndStandby(repositories, now, origin));
  }

  /**
   * Schedules the standby to sign as soon as every cached JWKS holds it (at
   * once if it was made long enough ago) and makes the next standby; returns
   * the scheduled key. The key it replaces stays published while its tokens live.
   */
  async rotate(origin: RequestOrigin): Promise<KeyStatus> {
    const kid = await this.changeKeys(async (repositories, now) => {
      await this.keepSignerAndStandby(repositories, now, origin);
      const keys = await repositories.signingKeys.list();
      const standby = oldestLive(keys.filter((key) => key.standby));
      const latestStart = Math.max(...keys.filter((key) => !key.standby).map((key) => key.signs_from));
      await repositories.signingKeys.schedule(standby.kid, Math.max(now, standby.signs_from, latestStart + 1));
      await this.keepSignerAndStandby(repositories, now, origin);
      return standby.kid;
    });
    return (await this.list()).find((key) => key.kid === kid)!;
  }

  /**
   * Retires the key: its tokens are refused from now on, by every instance
   * within KEY_RING_REFRESH_MS. When it was signing, a key that has never
   * signed takes over at once: the standby, already published. False when
   * no live key has this kid.
   */
  async retire(kid: string, origin: RequestOrigin): Promise<boolean> {
    return this.changeKeys(async (repositories, now) => {
      if (!(await repositories.signingKeys.retire(kid, now))) return false;
      await repositories.securityEvents.insert(auditEntry('signing_key_retired', null, origin));
      await this.keepSignerAndStandby(repositories, now, origin);
      return true;
    });
  }

  async list(): Promise<KeyStatus[]> {
    const keys = await this.store.signingKeys.list();
    const { states } = keyStates(keys, this.now(), this.tokenTtlMs);
    return keys.map((key) => ({
      kid: key.kid,
      state: states.get(key.kid)!,
      createdAt: key.created_at,
      signsFrom: key.signs_from,
      retiredAt: key.retired_at,
    }));
  }

  /**
   * When nothing signs, the longest-published key that has never signed
   * (the standby, or one scheduled for later) signs from now, or a new key
   * does; then, when no standby is left, a new one is made.
   */
  private async keepSignerAndStandby(repositories: Repositories, now: number, origin: RequestOrigin) {
    const stateOf = async () => {
      const keys = await repositories.signingKeys.list();
      const { states } = keyStates(keys, now, this.tokenTtlMs);
      return { keys, has: (state: KeyState) => [...states.values()].includes(state), states };
    };
    const before = await stateOf();
    if (!before.has('signing')) {
      // Strictly after the key it replaces, which may have started this very millisecond.
      const from = Math.max(
        now,
        ...before.keys.filter((key) => !key.standby && key.signs_from <= now).map((key) => key.signs_from + 1),
      );
      const waiting = before.keys.filter((key) => ['standby', 'next'].includes(before.states.get(key.kid)!));
      if (waiting.length > 0) await repositories.signingKeys.schedule(oldestLive(waiting).kid, from);
      else await this.add(repositories, newSigningKey(this.secret, now, from, false), origin);
    }
    if (!(await stateOf()).has('standby')) {
      await this.add(repositories, newSigningKey(this.secret, now, now + this.publishAheadMs, true), origin);
    }
  }

  private async add(repositories: Repositories, key: SigningKeyRow, origin: RequestOrigin) {
    await repositories.signingKeys.insert(key);
    await repositories.securityEvents.insert(auditEntry('signing_key_added', null, origin));
  }

  private async changeKeys<T>(change: (repositories: Repositories, nowMs: number) => Promise<T>): Promise<T> {
    const result = await this.store.transaction(async (repositories) => {
      await repositories.signingKeys.lock(); // a write first: the SQLite rule in store.ts
      return change(repositories, this.now());
    });
    await this.ring.load();
    return result;
  }
}

/** Of live keys, the one made first: the one every verifier has held longest. */
function oldestLive(keys: readonly SigningKeyRow[]): SigningKeyRow {
  return keys.filter((key) => key.retired_at === null).reduce((a, b) => (b.created_at < a.created_at ? b : a));
}
