import { expect } from 'chai';
import { createStore } from '../../src/storage/store.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { migrationSource } from '../../src/storage/migrations/index.js';
import { createTestDatabase } from '../support/database.js';
import { loadConfig } from '../../src/config.js';
import { TEST_SECRET } from '../support/server.js';

async function withDatabase(work: (db: ReturnType<typeof openDatabase>) => Promise<void>) {
  const database = await createTestDatabase();
  const db = openDatabase(loadConfig({ DATABASE_URL: database.url, JWT_SECRET: TEST_SECRET }).database);
  try {
    await work(db);
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

describe('storage', () => {
  it('numbers existing users densely in id order when positions arrive (migration 003)', async () => {
    await withDatabase(async (db) => {
      await db.migrate.up({ migrationSource });
      await db.migrate.up({ migrationSource });
      await db('users').insert([{ id: 5, ...row(5) }, { id: 2, ...row(2) }, { id: 9, ...row(9) }]);
      await migrateToLatest(db);
      const rows = await db('users').select('id', 'position').orderBy('id');
      expect(rows.map((r) => [r.id, Number(r.position)])).to.deep.equal([[2, 1], [5, 2], [9, 3]]);
      expect(await createStore(db).users.count()).to.equal(3);
    });
  });

  it('keeps positions dense and in id order, and the count exact, through failed inserts', async () => {
    await withDatabase(async (db) => {
      await migrateToLatest(db);
      const { users } = createStore(db);
      const insert = (n: number, email = `p${n}@example.com`) =>
        users.insert({ email, user_name: `p_${n}`, first_name: 'P', last_name: 'Q', role: 'user', password_hash: 'x' });
      const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => insert(n, n % 2 ? `odd${n}@example.com` : 'same@example.com')));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(4); // 3 odd + 1 of the 3 same
      const rows = await db('users').select('id', 'position').orderBy('id');
      expect(rows.map((r) => Number(r.position))).to.deep.equal([1, 2, 3, 4]);
      expect(await users.count()).to.equal(4);
      const page = await users.page(2, 2);
      expect(page.map((u) => u.id)).to.deep.equal(rows.slice(2, 4).map((r) => r.id));
    });
  });
});
