import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import type { SigningKeyRepository, SigningKeyRow } from '../../src/domain/ports.js';
import { KeyRing, KeySecret, keyStates, SigningKeys, type KeyState } from '../../src/domain/signing-keys.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { createStore } from '../../src/storage/store.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/server.js';

const MINUTE = 60_000;
const TTL = 15 * MINUTE;
const OPERATOR = { address: '127.0.0.1', requestId: 'test' };

const key = (kid: string, signsFrom: number, more: Partial<SigningKeyRow> = {}): SigningKeyRow => ({
  kid,
  algorithm: 'ES256',
  public_jwk: '{}',
  private_key: '',
  created_at: signsFrom,
  signs_from: signsFrom,
  retired_at: null,
  standby: false,
  ...more,
});

const statesAt = (keys: SigningKeyRow[], now: number) => Object.fromEntries(keyStates(keys, now, TTL).states);

describe('signing key states', () => {
  it('never lets a key sign again once another has taken over, even when that one is retired', () => {
    const old = key('old', 0);
    const current = key('current', 10 * MINUTE, { retired_at: 12 * MINUTE });
    expect(statesAt([old, current], 12 * MINUTE)).to.deep.equal({ old: 'verifying', current: 'retired' });
    // Long after: the old key's tokens have expired, and it is not published again.
    expect(statesAt([old, current], 10 * MINUTE + TTL + 2 * MINUTE)).to.deep.equal({
      old: 'expired',
      current: 'retired',
    });
  });

  it('keeps the older key signing when the next one is retired before it starts', () => {
    const current = key('current', 0);
    const next = key('next', 10 * MINUTE, { retired_at: 5 * MINUTE });
    expect(statesAt([current, next], 11 * MINUTE)).to.deep.equal({ current: 'signing', next: 'retired' });
  });

  it('publishes a standby without letting it sign', () => {
    const current = key('current', 0);
    const standby = key('standby', MINUTE, { standby: true });
    expect(statesAt([current, standby], 100 * MINUTE)).to.deep.equal({ current: 'signing', standby: 'standby' });
  });
});

describe('signing keys on a database: rotate, wait, retire', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;

  async function withKeys(work: (keys: SigningKeys) => Promise<void>) {
    const database = await createTestDatabase();
    const db = openDatabase(loadConfig({ DATABASE_URL: database.url, SIGNING_KEYS_SECRET: TEST_SECRET }).database);
    try {
      await migrateToLatest(db);
      const keys = new SigningKeys(createStore(db), new KeySecret(TEST_SECRET), {
        tokenTtlSeconds: TTL / 1000,
        jwksMaxAgeSeconds: 60,
        now: clock,
      });
      await work(keys);
    } finally {
      await db.destroy();
      await database.drop();
    }
  }

  const stateOf = async (keys: SigningKeys) =>
    Object.fromEntries((await keys.list()).map((status) => [status.kid, status.state])) as Record<string, KeyState>;
  const published = (keys: SigningKeys) => keys.ring.publicJwks().map((jwk) => jwk.kid);

  it('after retiring the signing key, signs with the standby every verifier already holds, never an old key', async () => {
    await withKeys(async (keys) => {
      await keys.ensureSigningKey(OPERATOR);
      const first = keys.ring.signingKey().kid;
      const [standby] = Object.entries(await stateOf(keys)).find(([, state]) => state === 'standby')!;
      expect(published(keys)).to.have.members([first, standby]);

      now += 2 * MINUTE; // the standby has been published longer than a cached JWKS lives
      const rotated = await keys.rotate(OPERATOR);
      expect(rotated).to.include({ kid: standby, state: 'signing' });
      expect(keys.ring.signingKey().kid).to.equal(standby);

      now += TTL + 2 * MINUTE; // the first key's last token has expired
      expect((await stateOf(keys))[first]).to.equal('expired');
      const [nextStandby] = Object.entries(await stateOf(keys)).find(([, state]) => state === 'standby')!;
      const heldBefore = published(keys);
      expect(heldBefore).to.have.members([standby, nextStandby]);

      now += 1000;
      expect(await keys.retire(standby, OPERATOR)).to.equal(true);
      const signer = keys.ring.signingKey().kid;
      expect(signer).to.equal(nextStandby);
      expect(heldBefore).to.include(signer);
      const states = await stateOf(keys);
      expect(states).to.include({ [first]: 'expired', [standby]: 'retired', [nextStandby]: 'signing' });
      expect(published(keys)).not.to.include.oneOf([first, standby]);
      expect(Object.values(states).filter((state) => state === 'standby')).to.have.length(1);
    });
  });

  it('after retiring the standby too, signs with a key made after both', async () => {
    await withKeys(async (keys) => {
      await keys.ensureSigningKey(OPERATOR);
      const first = keys.ring.signingKey().kid;
      const [standby] = Object.entries(await stateOf(keys)).find(([, state]) => state === 'standby')!;
      now += 1000;
      await keys.retire(first, OPERATOR);
      expect(keys.ring.signingKey().kid).to.equal(standby);
      now += 1000;
      await keys.retire(standby, OPERATOR);
      const signer = keys.ring.signingKey().kid;
      expect(signer).not.to.be.oneOf([first, standby]);
      expect((await keys.list()).find((status) => status.kid === signer)!.createdAt).to.be.below(now + 1);
      expect(published(keys)).to.include(signer).and.not.include.oneOf([first, standby]);
    });
  });

  it('makes a standby on a database from before standbys, without changing the signer', async () => {
    await withKeys(async (keys) => {
      await keys.ensureSigningKey(OPERATOR);
      const signer = keys.ring.signingKey().kid;
      now += 1000;
      await keys.ensureSigningKey(OPERATOR);
      expect(keys.ring.signingKey().kid).to.equal(signer);
      expect(Object.values(await stateOf(keys)).sort()).to.deep.equal(['signing', 'standby']);
    });
  });
});

describe('the key ring re-read', () => {
  function slowRepository(keys: SigningKeyRow[]) {
    const pending: ((rows: SigningKeyRow[]) => void)[] = [];
    let reads = 0;
    const repository: SigningKeyRepository = {
      list: () => {
        reads += 1;
        return new Promise((resolve) => pending.push(resolve));
      },
      lock: () => Promise.resolve(),
      insert: () => Promise.resolve(),
      schedule: () => Promise.resolve(),
      retire: () => Promise.resolve(false),
    };
    return { repository, pending, reads: () => reads, keys };
  }

  it('joins the re-read in flight instead of starting another', async () => {
    const slow = slowRepository([]);
    const ring = new KeyRing(slow.repository, new KeySecret(TEST_SECRET), TTL);
    const first = ring.refresh();
    const second = ring.refresh();
    expect(slow.reads()).to.equal(1);
    slow.pending[0]([]);
    await Promise.all([first, second]);
    void ring.refresh();
    expect(slow.reads()).to.equal(2);
    slow.pending[1]([]);
  });

  it('keeps the newest read when an older one answers last', async () => {
    const { publicKey } = await import('node:crypto').then((crypto) =>
      crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    );
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
    const jwk = JSON.stringify({ kty, crv, x, y });
    const slow = slowRepository([]);
    const ring = new KeyRing(slow.repository, new KeySecret(TEST_SECRET), TTL);
    const older = ring.load();
    const newer = ring.load();
    slow.pending[1]([key('new', 0, { public_jwk: jwk, standby: true })]);
    await newer;
    slow.pending[0]([key('old', 0, { public_jwk: jwk, standby: true })]);
    await older;
    expect(ring.publicJwks().map((published) => published.kid)).to.deep.equal(['new']);
  });
});
