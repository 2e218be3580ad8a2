// Knex implementations of the domain's repositories. Every query is built by
// Knex or is a constant here, always with bound parameters; no SQL is
// assembled from values.
import type { Knex } from 'knex';
import { DomainError } from '../domain/errors.js';
import type { AccountRecord, AdminUserRecord, ProfileChanges, Role } from '../domain/model.js';
import { knexReads, PROFILE_COLUMNS, rowsOf, USER_BLOCK_SIZE, type HotReads } from './reads.js';
import type {
  Credentials,
  LimitClaim,
  NewUserRow,
  OneTimeTokenRepository,
  OneTimeTokenRow,
  OutboxClaim,
  OutboxRepository,
  OutgoingMail,
  QueuedMail,
  RateLimitRepository,
  RefreshTokenRepository,
  RefreshTokenRow,
  Repositories,
  Reservation,
  SecurityEvent,
  SecurityEventRecord,
  SecurityEventRepository,
  SecurityEventType,
  SessionRecord,
  SessionRepository,
  SessionRow,
  SigningKeyRepository,
  SigningKeyRow,
  Store,
  UsedRefreshToken,
  UserRepository,
} from '../domain/ports.js';

const CREDENTIAL_COLUMNS = [
  'id',
  'email',
  'email_verified_at',
  'disabled_at',
  'password_hash',
  'credential_generation',
] as const;
const ACCOUNT_COLUMNS = [...PROFILE_COLUMNS, 'email_verified_at', 'created_at', 'password_changed_at'] as const;

// Knex builds no `insert … select … returning` on SQLite, so this one is
// written out. On PostgreSQL the user's row is share-locked: a password change
// that has updated it but not yet committed makes the insert wait and then
// see the new generation, so it can't slip in behind the change's delete.
// SQLite has one writer at a time, so the question can't arise there.
const insertSessionIfGenerationSql = (onPostgres: boolean) =>
  'insert into sessions (id, user_id, expires_at, created_at, address, user_agent) ' +
  'select cast(? as varchar(64)), id, cast(? as bigint), cast(? as bigint), cast(? as varchar(64)), cast(? as varchar(256)) ' +
  'from users ' +
  `where id = ? and credential_generation = ? and disabled_at is null${onPostgres ? ' for share' : ''} returning id`;

/**
 * The repositories on `db`, with the hot reads through `reads` (see
 * reads.ts). Inside a transaction they run on the transaction, which must
 * see its own uncommitted writes.
 */
export function createStore(db: Knex, reads: HotReads = knexReads(db)): Store {
  return {
    ...repositoriesOn(db, reads),
    async transaction(work) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await db.transaction((trx) => work(repositoriesOn(trx, knexReads(trx))));
        } catch (error) {
          // The lock orders are chosen so that transactions don't end each
          // other; this is the net under them. Rolled back whole, a
          // transaction can run again.
          if (!isLockConflict(error) || attempt === LOCK_CONFLICT_ATTEMPTS) throw error;
        }
      }
    },
  };
}

const LOCK_CONFLICT_ATTEMPTS = 3;

/**
 * PostgreSQL ended this transaction as a deadlock victim (40P01); or SQLite
 * refused it a write lock: a transaction that read before another connection
 * wrote can't start writing (SQLITE_BUSY at once, whatever busy_timeout
 * says). Transactions here write before they read; this catches one that
 * doesn't.
 */
function isLockConflict(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === '40P01' || code === 'SQLITE_BUSY';
}

function repositoriesOn(db: Knex | Knex.Transaction, reads: HotReads): Repositories {
  return {
    users: userRepository(db, reads),
    sessions: sessionRepository(db, reads),
    rateLimits: rateLimitRepository(db),
    securityEvents: securityEventRepository(db),
    outbox: outboxRepository(db),
    resetTokens: oneTimeTokenRepository(db, 'password_reset_tokens'),
    verificationTokens: oneTimeTokenRepository(db, 'email_verification_tokens'),
    signingKeys: signingKeyRepository(db),
    refreshTokens: refreshTokenRepository(db),
  };
}

function userRepository(db: Knex | Knex.Transaction, reads: HotReads): UserRepository {
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

function sessionRepository(db: Knex | Knex.Transaction, reads: HotReads): SessionRepository {
  const insertIfGenerationSql = insertSessionIfGenerationSql(isPostgres(db));
  return {
    async insert(session: SessionRow, generation: number) {
      // One statement: the row exists only if the generation was current when it was written.
      const inserted = rowsOf<{ id: string }>(
        await db.raw(insertIfGenerationSql, [
          session.id,
          session.expires_at,
          Date.now(),
          session.address,
          session.user_agent,
          session.user_id,
          generation,
        ]),
      );
      return inserted.length > 0;
    },

    async findOpen(id: string, nowSeconds: number) {
      const row = await db('sessions')
        .where({ id })
        .andWhere('expires_at', '>', nowSeconds)
        .first<{ user_id: number; expires_at: number | string } | undefined>('user_id', 'expires_at');
      return row && { user_id: Number(row.user_id), expires_at: Number(row.expires_at) };
    },

    async findActive(id: string, nowSeconds: number) {
      return reads.findActiveSession(id, nowSeconds);
    },

    async findActiveWithProfile(id: string, nowSeconds: number, profileId: number) {
      return reads.findActiveSessionWithProfile(id, nowSeconds, profileId);
    },

    async listOfUser(userId: number, nowSeconds: number, limit: number) {
      const rows = await db('sessions')
        .where({ user_id: userId })
        .andWhere('expires_at', '>', nowSeconds)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit)
        .select<SessionRecord[]>('id', 'created_at', 'expires_at', 'address', 'user_agent');
      return rows.map((row) => ({ ...row, created_at: Number(row.created_at), expires_at: Number(row.expires_at) }));
    },

    async delete(id: string) {
      return (await db('sessions').where({ id }).delete()) > 0;
    },

    async deleteOfUser(id: string, userId: number) {
      return (await db('sessions').where({ id, user_id: userId }).delete()) > 0;
    },

    async deleteOthersOfUser(userId: number, keepSessionId: string) {
      return db('sessions').where({ user_id: userId }).andWhereNot({ id: keepSessionId }).delete();
    },

    async deleteAllOfUser(userId: number) {
      return db('sessions').where({ user_id: userId }).delete();
    },

    async deleteExpired(nowSeconds: number) {
      return db('sessions').where('expires_at', '<=', nowSeconds).delete();
    },

    async countActive(nowSeconds: number) {
      const [row] = await db('sessions')
        .where('expires_at', '>', nowSeconds)
        .count<{ total: number | string }[]>({ total: '*' });
      return Number(row.total);
    },
  };
}

function rateLimitRepository(db: Knex | Knex.Transaction): RateLimitRepository {
  const onPostgres = isPostgres(db);
  return {
    async reserve(claims: LimitClaim[], nowMs: number): Promise<Reservation> {
      if (claims.length === 0) return { granted: true, eventIds: [], filledALimit: false };
      try {
        return await db.transaction(async (trx) => {
          if (onPostgres) {
            // Claims on one key take turns until commit. SQLite needs no lock:
            // the first insert below takes its single write lock.
            const keys = [...new Set(claims.map(({ bucket, key }) => `${bucket}:${key}`))].sort();
            for (const key of keys) await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
          }
          const eventIds: number[] = [];
          for (const { bucket, key, forGood } of claims) {
            const [row] = await trx('rate_limit_events')
              .insert({ bucket, key, occurred_at: nowMs })
              .returning<{ id: number }[]>('id');
            if (!forGood) eventIds.push(Number(row.id));
          }
          let retryAfterMs = 0;
          let filledALimit = false;
          for (const { bucket, key, limit, windowMs } of claims) {
            const since = nowMs - windowMs;
            const count = await countSince(trx, bucket, key, since);
            if (count === limit) filledALimit = true;
            if (count > limit) {
              // Full: a place frees up when the event `count - limit` from the
              // oldest (this request's own is the newest) leaves the window.
              const freeing = await trx('rate_limit_events')
                .where({ bucket, key })
                .andWhere('occurred_at', '>', since)
                .orderBy('occurred_at')
                .offset(count - limit - 1)
                .first<{ occurred_at: number | string } | undefined>('occurred_at');
              retryAfterMs = Math.max(retryAfterMs, Number(freeing?.occurred_at ?? nowMs) + windowMs - nowMs, 1);
            }
          }
          if (retryAfterMs > 0) throw new LimitFull(retryAfterMs);
          return { granted: true as const, eventIds, filledALimit };
        });
      } catch (error) {
        if (error instanceof LimitFull) return { granted: false, retryAfterMs: error.retryAfterMs };
        throw error;
      }
    },

    async release(eventIds: number[]) {
      if (eventIds.length > 0) await db('rate_limit_events').whereIn('id', eventIds).delete();
    },

    async deleteKey(bucket: string, key: string) {
      await db('rate_limit_events').where({ bucket, key }).delete();
    },

    async deleteKeysOfEmail(email: string) {
      const withAddress = `${email} `;
      await db('rate_limit_events')
        .where({ key: email })
        // substr, not LIKE: an email may hold % and _.
        .orWhereRaw('substr(key, 1, ?) = ?', [withAddress.length, withAddress])
        .delete();
    },

    async deleteOlderThan(atMs: number) {
      return db('rate_limit_events').where('occurred_at', '<=', atMs).delete();
    },
  };
}

async function countSince(db: Knex | Knex.Transaction, bucket: string, key: string, sinceMs: number): Promise<number> {
  const [row] = await db('rate_limit_events')
    .where({ bucket, key })
    .andWhere('occurred_at', '>', sinceMs)
    .count<{ count: number | string }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}

/** Rolls a reservation back: some limit had no place left. */
class LimitFull extends Error {
  constructor(readonly retryAfterMs: number) {
    super('limit full');
  }
}

function securityEventRepository(db: Knex | Knex.Transaction): SecurityEventRepository {
  return {
    async insert(event: SecurityEvent) {
      await db('security_events').insert({ ...event, occurred_at: Date.now() });
    },

    async list(filter: { userId?: number; type?: SecurityEventType }, offset: number, limit: number) {
      const matching = () =>
        db('security_events').where({
          ...(filter.userId === undefined ? {} : { user_id: filter.userId }),
          ...(filter.type === undefined ? {} : { type: filter.type }),
        });
      const rows = await matching()
        .orderBy('id', 'desc')
        .offset(offset)
        .limit(limit)
        .select<SecurityEventRecord[]>('id', 'type', 'user_id', 'actor_id', 'address', 'request_id', 'occurred_at');
      const [{ n }] = await matching().count<{ n: number | string }[]>({ n: '*' });
      const events = rows.map((row) => ({
        ...row,
        id: Number(row.id),
        occurred_at: Number(row.occurred_at),
        user_id: nullableNumber(row.user_id),
        actor_id: nullableNumber(row.actor_id),
      }));
      return { events, total: Number(n) };
    },

    async forgetAddressesOf(userId: number) {
      await db('security_events').where({ user_id: userId }).orWhere({ actor_id: userId }).update({ address: null });
    },

    async deleteOlderThan(atMs: number) {
      return db('security_events').where('occurred_at', '<', atMs).delete();
    },
  };
}

interface OutboxRow {
  id: number;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: number | string;
  attempts: number;
  sent_at: number | string | null;
  last_error: string | null;
}

const queuedMail = (row: OutboxRow): QueuedMail => ({
  id: Number(row.id),
  to: row.recipient,
  subject: row.subject,
  text: row.text_body,
  html: row.html_body,
  createdAt: Number(row.created_at),
  attempts: Number(row.attempts),
  sentAt: row.sent_at === null ? null : Number(row.sent_at),
  lastError: row.last_error,
});

function outboxRepository(db: Knex | Knex.Transaction): OutboxRepository {
  const onPostgres = isPostgres(db);
  const whereClaimed = ({ id, attempts }: OutboxClaim) =>
    db('mail_outbox').where({ id, attempts }).whereNull('sent_at');
  return {
    async enqueue(mail: OutgoingMail, nowMs: number) {
      const [row] = await db('mail_outbox')
        .insert({
          recipient: mail.to,
          subject: mail.subject,
          text_body: mail.text,
          html_body: mail.html,
          created_at: nowMs,
          next_attempt_at: nowMs,
        })
        .returning<{ id: number }[]>('id');
      return Number(row.id);
    },

    async claimDue(nowMs: number, leaseMs: number, limit: number) {
      // One statement: the claim is atomic on SQLite (one writer at a time);
      // on PostgreSQL, SKIP LOCKED lets senders in other processes take other rows.
      const due = db('mail_outbox')
        .select('id')
        .whereNull('sent_at')
        .andWhere('next_attempt_at', '<=', nowMs)
        .andWhereRaw('(claimed_until is null or claimed_until < ?)', [nowMs])
        .orderBy('id')
        .limit(limit);
      const rows = await db('mail_outbox')
        .whereIn('id', onPostgres ? due.forUpdate().skipLocked() : due)
        .update({ claimed_until: nowMs + leaseMs, attempts: db.raw('attempts + 1') })
        .returning<OutboxRow[]>('*');
      return rows.map(queuedMail).sort((a, b) => a.id - b.id);
    },

    async markSent(claim: OutboxClaim, nowMs: number) {
      const updated = await whereClaimed(claim).update({ sent_at: nowMs, claimed_until: null, last_error: null });
      return updated === 1;
    },

    async deleteTo(recipient: string) {
      await db('mail_outbox').where({ recipient }).delete();
    },

    async deleteCreatedBefore(atMs: number) {
      return db('mail_outbox').where('created_at', '<', atMs).delete();
    },

    async markFailed(claim: OutboxClaim, nextAttemptAt: number, error: string) {
      const updated = await whereClaimed(claim).update({
        next_attempt_at: nextAttemptAt,
        claimed_until: null,
        last_error: error.slice(0, 200),
      });
      return updated === 1;
    },

    async list(limit: number) {
      return (await db('mail_outbox').orderBy('id', 'desc').limit(limit).select<OutboxRow[]>('*')).map(queuedMail);
    },

    async find(id: number) {
      const row = await db('mail_outbox').where({ id }).first<OutboxRow | undefined>('*');
      return row && queuedMail(row);
    },
  };
}

/** A table of single-use tokens (the reset and the verification tokens share one shape). */
function oneTimeTokenRepository(db: Knex | Knex.Transaction, table: string): OneTimeTokenRepository {
  return {
    async insert(token: OneTimeTokenRow) {
      await db(table).insert(token);
    },

    async findUsable(tokenHash: string, nowMs: number) {
      const row = await db(table)
        .where({ token_hash: tokenHash })
        .whereNull('used_at')
        .andWhere('expires_at', '>', nowMs)
        .first<{ id: number; user_id: number; email: string } | undefined>('id', 'user_id', 'email');
      return row && { id: Number(row.id), user_id: Number(row.user_id), email: row.email };
    },

    async consume(id: number, nowMs: number) {
      const updated = await db(table)
        .where({ id })
        .whereNull('used_at')
        .andWhere('expires_at', '>', nowMs)
        .update({ used_at: nowMs });
      return updated > 0;
    },

    async deleteAllOfUser(userId: number) {
      await db(table).where({ user_id: userId }).delete();
    },
  };
}

function signingKeyRepository(db: Knex | Knex.Transaction): SigningKeyRepository {
  return {
    async list() {
      const rows = await db('signing_keys').orderBy('signs_from').orderBy('kid').select<SigningKeyRow[]>('*');
      return rows.map((row) => ({
        ...row,
        created_at: Number(row.created_at),
        signs_from: Number(row.signs_from),
        retired_at: nullableNumber(row.retired_at),
        standby: Boolean(row.standby), // SQLite answers 0 or 1
      }));
    },

    async lock() {
      await lockCounter(db, 'signing_keys');
    },

    async schedule(kid: string, signsFrom: number) {
      await db('signing_keys').where({ kid }).whereNull('retired_at').update({ signs_from: signsFrom, standby: false });
    },

    async insert(key: SigningKeyRow) {
      await db('signing_keys').insert(key);
    },

    async retire(kid: string, nowMs: number) {
      return (await db('signing_keys').where({ kid }).whereNull('retired_at').update({ retired_at: nowMs })) > 0;
    },
  };
}

function refreshTokenRepository(db: Knex | Knex.Transaction): RefreshTokenRepository {
  return {
    async insert(token: RefreshTokenRow) {
      await db('refresh_tokens').insert(token);
    },

    async use(tokenHash: string, nowMs: number, by: { address: string; userAgent: string | null }) {
      const [row] = await db('refresh_tokens')
        .where({ token_hash: tokenHash })
        .whereNull('used_at')
        .update({ used_at: nowMs, used_address: by.address, used_user_agent: by.userAgent })
        .returning<{ session_id: string }[]>('session_id');
      return row?.session_id;
    },

    async findUsed(tokenHash: string) {
      const row = await db('refresh_tokens')
        .where({ token_hash: tokenHash })
        .whereNotNull('used_at')
        .first<(Omit<UsedRefreshToken, 'used_at'> & { used_at: number | string }) | undefined>(
          'session_id',
          'used_at',
          'used_address',
          'used_user_agent',
        );
      return row && { ...row, used_at: Number(row.used_at) };
    },

    async deleteOrphaned() {
      return db('refresh_tokens')
        .whereNotExists(db('sessions').select(db.raw('1')).where('sessions.id', db.ref('refresh_tokens.session_id')))
        .delete();
    },
  };
}

/** Takes a counter row's lock until the transaction ends, changing nothing: a write, so SQLite's rule holds. */
async function lockCounter(db: Knex | Knex.Transaction, name: string): Promise<void> {
  await db('counters')
    .where({ name })
    .update({ value: db.ref('value') });
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

// PostgreSQL's driver answers bigint columns as strings.
function nullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
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

function isPostgres(db: Knex | Knex.Transaction): boolean {
  return (db.client as { config: { client: unknown } }).config.client === 'pg';
}

function isTransaction(db: Knex | Knex.Transaction): db is Knex.Transaction {
  return (db as Knex.Transaction).isTransaction === true;
}

export function userNameKey(userName: string): string {
  return userName.toLowerCase();
}

/**
 * Turns a unique-constraint violation into the domain's conflict, naming the
 * field that is taken: the database decides races.
 */
async function rejectTakenKeys<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const field = takenField(error);
    throw new DomainError('conflict', field && { field, message: 'belongs to another account' });
  }
}

/**
 * The profile field whose unique column a violation names: PostgreSQL names
 * the constraint (users_user_name_key_unique), SQLite the column
 * (UNIQUE constraint failed: users.user_name_key).
 */
function takenField(error: unknown): 'email' | 'user_name' | undefined {
  const { constraint, message } = error as { constraint?: unknown; message?: unknown };
  const column =
    typeof constraint === 'string'
      ? /^users_(\w+)_unique$/.exec(constraint)?.[1]
      : typeof message === 'string'
        ? /UNIQUE constraint failed: users\.(\w+)/.exec(message)?.[1]
        : undefined;
  if (column === 'email') return 'email';
  if (column === 'user_name_key') return 'user_name';
  return undefined;
}

function isUniqueViolation(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === '23505') return true; // PostgreSQL unique_violation
  return code === 'SQLITE_CONSTRAINT' && typeof message === 'string' && message.includes('UNIQUE');
}
