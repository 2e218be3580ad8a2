import { expect } from 'chai';
import { openHotReads } from '../../src/storage/reads.js';
import { Retention } from '../../src/domain/retention.js';
import { createStore } from '../../src/storage/store.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { migrationSource } from '../../src/storage/migrations/index.js';
import { createTestDatabase } from '../support/database.js';
import { loadConfig, type DatabaseConfig } from '../../src/config.js';
import { TEST_SECRET } from '../support/server.js';

async function withDatabase(work: (db: ReturnType<typeof openDatabase>, config: DatabaseConfig) => Promise<void>) {
  const database = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: database.url, SIGNING_KEYS_SECRET: TEST_SECRET }).database;
  const db = openDatabase(config);
  try {
    await work(db, config);
  } finally {
    await db.destroy();
    await database.drop();
  }
}

const row = (n: number) => ({
  email: `s${n}@example.com`,
  user_name: `s_${n}`,
  user_name_key: `s_${n}`,
  first_name: 'S',
  last_name: 'T',
  role: 'user',
  password_hash: 'x',
  created_at: 0,
  updated_at: 0,
});

const PASSWORD_LOGIN = { amr: 'pwd', authenticated_at: 1_000_000 };

describe('storage', () => {
  it('numbers existing users densely in id order when positions arrive (migration 003)', async () => {
    await withDatabase(async (db) => {
      await db.migrate.up({ migrationSource });
      await db.migrate.up({ migrationSource });
      await db('users').insert([
        { id: 5, ...row(5) },
        { id: 2, ...row(2) },
        { id: 9, ...row(9) },
      ]);
      await migrateToLatest(db);
      const rows = await db('users').select('id', 'position').orderBy('id');
      expect(rows.map((r) => [r.id, Number(r.position)])).to.deep.equal([
        [2, 1],
        [5, 2],
        [9, 3],
      ]);
      expect(await createStore(db).users.count()).to.equal(3);
    });
  });

  it('keeps positions dense and in id order, and the count exact, through failed inserts', async () => {
    await withDatabase(async (db) => {
      await migrateToLatest(db);
      const { users } = createStore(db);
      const insert = (n: number, email = `p${n}@example.com`) =>
        users.insert({ email, user_name: `p_${n}`, first_name: 'P', last_name: 'Q', role: 'user', password_hash: 'x' });
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5, 6].map((n) => insert(n, n % 2 ? `odd${n}@example.com` : 'same@example.com')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(4); // 3 odd + 1 of the 3 same
      const rows = await db('users').select('id', 'position').orderBy('id');
      expect(rows.map((r) => Number(r.position))).to.deep.equal([1, 2, 3, 4]);
      expect(await users.count()).to.equal(4);
      const page = await users.page(2, 2);
      expect(page.map((u) => u.id)).to.deep.equal(rows.slice(2, 4).map((r) => r.id));
    });
  });

  it('pages exactly through deletions that leave gaps, an emptied block among them (migration 010)', async function () {
    this.timeout(60_000);
    await withDatabase(async (db) => {
      await migrateToLatest(db);
      const store = createStore(db);
      const ids: number[] = [];
      for (let batch = 0; batch < 5; batch++) {
        // Several inserts at once: positions and blocks must come out whole.
        ids.push(
          ...(await Promise.all(
            Array.from({ length: 80 }, (_, i) => {
              const n = batch * 80 + i;
              return store.users.insert({
                email: `g${n}@example.com`,
                user_name: `g_${n}`,
                first_name: 'G',
                last_name: 'H',
                role: 'user',
                password_hash: 'x',
              });
            }),
          )),
        );
      }
      const byPosition = async () =>
        (await db('users').orderBy('position').select('id', 'position')).map((r) => ({
          id: Number(r.id),
          position: Number(r.position),
        }));
      // Every user of block 1 (positions 128 to 255), and a scatter of others.
      const doomed = (await byPosition())
        .filter(({ position }) => (position >= 128 && position < 256) || position % 7 === 3)
        .map(({ id }) => id);
      await Promise.all(doomed.map((id) => store.transaction(({ users }) => users.erase(id))));
      const left = (await byPosition()).map(({ id }) => id);
      expect(left).to.have.length(ids.length - doomed.length);
      expect(await store.users.count()).to.equal(left.length);
      for (let offset = 0; offset <= left.length + 3; offset += 3) {
        for (const limit of [1, 10, 100]) {
          const page = (await store.users.page(offset, limit)).map((u) => u.id);
          expect(page, `offset ${offset}, limit ${limit}`).to.deep.equal(left.slice(offset, offset + limit));
        }
      }
      // New users go after every gap.
      const newest = await store.users.insert({
        email: 'after-gaps@example.com',
        user_name: 'after_gaps',
        first_name: 'A',
        last_name: 'G',
        role: 'user',
        password_hash: 'x',
      });
      expect((await store.users.page(left.length, 5)).map((u) => u.id)).to.deep.equal([newest]);
    });
  });

  it('answers the hot reads (session, profile, page, count) like Knex does, and sees what Knex commits at once', async () => {
    await withDatabase(async (db, config) => {
      await migrateToLatest(db);
      const hotReads = openHotReads(config, db);
      try {
        const viaKnex = createStore(db);
        const viaHotReads = createStore(db, hotReads);
        const id = await viaKnex.users.insert({
          email: 'h@example.com',
          user_name: 'h_1',
          first_name: 'H',
          last_name: 'R',
          role: 'moderator',
          password_hash: 'x',
        });
        expect(
          await viaKnex.sessions.insert(
            { id: 'open', user_id: id, expires_at: 2_000, address: null, user_agent: null, ...PASSWORD_LOGIN },
            0,
          ),
        ).to.equal(true);
        expect(
          await viaKnex.sessions.insert(
            { id: 'expired', user_id: id, expires_at: 1_000, address: null, user_agent: null, ...PASSWORD_LOGIN },
            0,
          ),
        ).to.equal(true);
        // A session is opened only from the current credential generation.
        expect(
          await viaKnex.sessions.insert(
            { id: 'stale', user_id: id, expires_at: 2_000, address: null, user_agent: null, ...PASSWORD_LOGIN },
            1,
          ),
        ).to.equal(false);
        const profile = {
          id,
          email: 'h@example.com',
          user_name: 'h_1',
          first_name: 'H',
          last_name: 'R',
          role: 'moderator',
        };
        const openSession = {
          user_id: id,
          role: 'moderator',
          email_verified: config.client === 'sqlite' ? 0 : false, // SQLite answers 0 for false
          amr: 'pwd',
          authenticated_at: 1_000_000,
        };
        // PostgreSQL answers a bigint as a string.
        const withTimeAsNumber = <T extends { authenticated_at: number | string }>(session: T | undefined) =>
          session && { ...session, authenticated_at: Number(session.authenticated_at) };
        for (const store of [viaKnex, viaHotReads]) {
          expect(await store.users.findById(id)).to.deep.equal(profile);
          expect(await store.users.findById(id + 1)).to.equal(undefined);
          expect(withTimeAsNumber(await store.sessions.findActive('open', 1_500))).to.deep.equal(openSession);
          expect(await store.sessions.findActive('expired', 1_500)).to.equal(undefined);
          expect(await store.sessions.findActive('missing', 1_500)).to.equal(undefined);
          expect(await store.users.count()).to.equal(1);
          expect(await store.users.page(0, 10)).to.deep.equal([
            { id, email: 'h@example.com', user_name: 'h_1', first_name: 'H', last_name: 'R' },
          ]);
          expect(await store.users.page(1, 10)).to.deep.equal([]);
        }
        for (const store of [viaKnex, viaHotReads]) {
          // The session and a profile in one statement: the profile, or none for an unknown id.
          expect(withTimeAsNumber(await store.sessions.findActiveWithProfile('open', 1_500, id))).to.deep.equal({
            ...openSession,
            profile,
          });
          expect((await store.sessions.findActiveWithProfile('open', 1_500, id + 7))?.profile).to.equal(undefined);
          expect(await store.sessions.findActiveWithProfile('expired', 1_500, id)).to.equal(undefined);
        }
        await viaKnex.sessions.delete('open');
        await viaKnex.users.update(id, { first_name: 'Changed' });
        expect(await viaHotReads.sessions.findActive('open', 1_500)).to.equal(undefined);
        expect((await viaHotReads.users.findById(id))?.first_name).to.equal('Changed');
        await viaKnex.users.insert({
          email: 'i@example.com',
          user_name: 'i_1',
          first_name: 'I',
          last_name: 'R',
          role: 'user',
          password_hash: 'x',
        });
        expect(await viaHotReads.users.count()).to.equal(2);
        expect((await viaHotReads.users.page(1, 10)).map((user) => user.email)).to.deep.equal(['i@example.com']);
      } finally {
        await hotReads.close();
      }
    });
  });
  it('prunes the audit trail and the outbox past their retention, and keeps everything at 0', async () => {
    await withDatabase(async (db) => {
      await migrateToLatest(db);
      const day = 86_400_000;
      const now = Date.UTC(2026, 10, 27);
      const event = (daysAgo: number) => ({ type: 'login', user_id: 1, occurred_at: now - daysAgo * day });
      await db('security_events').insert([event(400), event(366), event(364), event(1)]);
      const message = (daysAgo: number, sent: boolean) => ({
        recipient: 'r@example.com',
        subject: `${daysAgo} days`,
        text_body: 't',
        html_body: 'h',
        created_at: now - daysAgo * day,
        next_attempt_at: now - daysAgo * day,
        sent_at: sent ? now - daysAgo * day : null,
      });
      await db('mail_outbox').insert([message(9, true), message(8, false), message(6, true), message(0, false)]);
      const store = createStore(db);

      expect(await new Retention(store, { auditDays: 0, mailDays: 0 }, () => now).prune()).to.deep.equal({
        auditEvents: 0,
        messages: 0,
      });
      expect(await new Retention(store, { auditDays: 365, mailDays: 7 }, () => now).prune()).to.deep.equal({
        auditEvents: 2,
        messages: 2,
      });
      const kept = await db('security_events').select('occurred_at').orderBy('occurred_at');
      expect(kept.map((row) => (now - Number(row.occurred_at)) / day)).to.deep.equal([364, 1]);
      const subjects = await db('mail_outbox').select('subject').orderBy('created_at');
      expect(subjects.map((row) => row.subject)).to.deep.equal(['6 days', '0 days']);
    });
  });
});
