// The users table: accounts, their credentials, and the counters that keep the
// listing's positions dense (user_blocks).
import type { Knex } from 'knex';
import type { AccountRecord, AdminUserRecord, ProfileChanges, Role } from '../../domain/model.js';
import type { Credentials, NewUserRow, UserRepository } from '../../domain/ports.js';
import { type HotReads, PROFILE_COLUMNS, USER_BLOCK_SIZE } from '../reads.js';
import { isTransaction, lockCounter, nullableNumber, rejectTakenKeys } from '../sql.js';

const CREDENTIAL_COLUMNS = [
  'id',
  'email',
  'email_verified_at',
  'disabled_at',
  'password_hash',
  'credential_generation',
] as const;
const ACCOUNT_COLUMNS = [...PROFILE_COLUMNS, 'email_verified_at', 'created_at', 'password_changed_at'] as const;

export function userRepository(db: Knex | Knex.Transaction, reads: HotReads): UserRepository {
  return {
    async insert(row: NewUserRow) {
      // The counter rows are taken first: they serialize inserts, so ids and
      // positions grow in the same order, and a failed insert rolls both back.
      const insertCounted = async (trx: Knex.Transaction) => {
        const position = await nextUserPosition(trx);
        const now = Date.now();
        const [inserted] = await rejectTakenKeys(
          trx('users')
            .insert({
              ...row,
              user_name_key: userNameKey(row.user_name),
              position,
              created_at: now,
              updated_at: now,
              password_changed_at: now,
            })
            .returning<{ id: number }[]>('id'),
        );
        return Number(inserted.id);
      };
      return isTransaction(db) ? insertCounted(db) : db.transaction(insertCounted);
    },

    async findById(id: number) {
      return reads.findProfile(id);
    },

    async findAccount(id: number) {
      const row = await db('users').select(ACCOUNT_COLUMNS).where({ id }).first<AccountRecord | undefined>();
      return (
        row && {
          ...row,
          created_at: Number(row.created_at),
          email_verified_at: nullableNumber(row.email_verified_at),
          password_changed_at: nullableNumber(row.password_changed_at),
        }
      );
    },

    async findCredentialsByEmail(email: string) {
      return credentialsOf(await db('users').select(CREDENTIAL_COLUMNS).where({ email }).first<Credentials>());
    },

    async findCredentialsById(id: number) {
      return credentialsOf(await db('users').select(CREDENTIAL_COLUMNS).where({ id }).first<Credentials>());
    },

    async update(id: number, changes: ProfileChanges) {
      const row: Record<string, string | number> = { updated_at: Date.now() };
      for (const [column, value] of Object.entries(changes)) {
        if (value !== undefined) row[column] = value;
      }
      if (changes.user_name !== undefined) row.user_name_key = userNameKey(changes.user_name);
      const verifiedAt =
        changes.email === undefined
          ? {}
          : // SET sees the row as it was: a different email is not the verified one.
            { email_verified_at: db.raw('case when email = ? then email_verified_at end', [changes.email]) };
      const updated = await rejectTakenKeys(
        db('users')
          .where({ id })
          .update({ ...row, ...verifiedAt }),
      );
      return updated > 0;
    },

    async markEmailVerified(id: number, email: string, nowMs: number) {
      // An address verified before keeps the time it was first verified.
      const updated = await db('users')
        .where({ id, email })
        .update({ email_verified_at: db.raw('coalesce(email_verified_at, ?)', [nowMs]) });
      return updated > 0;
    },

    async replacePasswordHash(id: number, passwordHash: string, { generation, sameCredential = false }) {
      const now = Date.now();
      const updated = await db('users')
        .where({ id, credential_generation: generation })
        .update({
          password_hash: passwordHash,
          updated_at: now,
          ...(sameCredential ? {} : { credential_generation: generation + 1, password_changed_at: now }),
        });
      return updated > 0;
    },

    async erase(id: number, generation?: number) {
      const eraseCounted = async (trx: Knex.Transaction) => {
        // The count first, as inserts take it: erasures and inserts take
        // turns, so the count and the blocks stay exact.
        await trx('counters').where({ name: 'users' }).decrement('value', 1);
        const row = await trx('users')
          .where({ id, ...(generation === undefined ? {} : { credential_generation: generation }) })
          .first<{ email: string; role: Role; position: number | string } | undefined>('email', 'role', 'position');
        if (!row) {
          await trx('counters').where({ name: 'users' }).increment('value', 1);
          return undefined;
        }
        await trx('users').where({ id }).delete();
        // The position stays a gap: one user fewer in its block and before every later one.
        const block = Math.floor(Number(row.position) / USER_BLOCK_SIZE);
        await trx('user_blocks').where({ block }).decrement('live', 1);
        await trx('user_blocks').where({ block, live: 0 }).delete();
        await trx('user_blocks').where('block', '>', block).decrement('before', 1);
        return { email: row.email, role: row.role };
      };
      return isTransaction(db) ? eraseCounted(db) : db.transaction(eraseCounted);
    },

    async search(text: string, match: 'exact' | 'prefix', offset: number, limit: number) {
      const pattern = `${text.replace(/[\\%_]/g, '\\$&')}%`;
      const matching = () =>
        db('users').where((where) => {
          // The callback adds to the builder; it is not a query to await.
          if (match === 'exact') void where.where({ email: text }).orWhere({ user_name_key: text });
          else
            void where
              .whereRaw("email like ? escape '\\'", [pattern])
              .orWhereRaw("user_name_key like ? escape '\\'", [pattern]);
        });
      const rows = await matching()
        .orderBy('id')
        .offset(offset)
        .limit(limit)
        .select<AdminUserRecord[]>([...PROFILE_COLUMNS, 'email_verified_at', 'disabled_at', 'created_at']);
      const [{ n }] = await matching().count<{ n: number | string }[]>({ n: '*' });
      const users = rows.map((row) => ({
        ...row,
        created_at: Number(row.created_at),
        email_verified_at: nullableNumber(row.email_verified_at),
        disabled_at: nullableNumber(row.disabled_at),
      }));
      return { users, total: Number(n) };
    },

    async countAdmins() {
      const [row] = await db('users')
        .where({ role: 'admin' })
        .whereNull('disabled_at')
        .count<{ n: number | string }[]>({ n: '*' });
      return Number(row.n);
    },

    async lockAccounts() {
      await lockCounter(db, 'users');
    },

    async setRole(id: number, role: Role) {
      return (await db('users').where({ id }).update({ role, updated_at: Date.now() })) > 0;
    },

    async disable(id: number, nowMs: number) {
      const updated = await db('users')
        .where({ id })
        .update({
          disabled_at: db.raw('coalesce(disabled_at, ?)', [nowMs]),
          credential_generation: db.raw('credential_generation + 1'),
          updated_at: nowMs,
        });
      return updated > 0;
    },

    async enable(id: number) {
      return (await db('users').where({ id }).update({ disabled_at: null, updated_at: Date.now() })) > 0;
    },

    async page(offset: number, limit: number) {
      return reads.page(offset, limit);
    },

    async count() {
      return reads.countUsers();
    },
  };
}

/**
 * Counts `by` more users (in the caller's transaction) and returns the first
 * of their positions, which follow every position given before. The count
 * is taken first, as erasures take it.
 */
export async function nextUserPosition(trx: Knex.Transaction, by = 1): Promise<number> {
  const bump = async (name: string) => {
    const [counter] = await trx('counters')
      .where({ name })
      .increment('value', by)
      .returning<{ value: number | string }[]>('value');
    return Number(counter.value);
  };
  const usersBefore = (await bump('users')) - by;
  const first = (await bump('user_positions')) - by + 1;
  // The new positions are past every user, so a new block has all of them before it.
  let before = usersBefore;
  for (let position = first; position < first + by;) {
    const block = Math.floor(position / USER_BLOCK_SIZE);
    const inBlock = Math.min(first + by, (block + 1) * USER_BLOCK_SIZE) - position;
    await trx.raw(
      'insert into user_blocks (block, live, before) values (?, ?, ?) ' +
        'on conflict (block) do update set live = user_blocks.live + excluded.live',
      [block, inBlock, before],
    );
    before += inBlock;
    position += inBlock;
  }
  return first;
}

function credentialsOf(row: Credentials | undefined): Credentials | undefined {
  return (
    row && {
      ...row,
      email_verified_at: nullableNumber(row.email_verified_at),
      disabled_at: nullableNumber(row.disabled_at),
    }
  );
}

export function userNameKey(userName: string): string {
  return userName.toLowerCase();
}
