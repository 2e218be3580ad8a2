// What every repository shares: the database's differences, counters taken as
// locks, and unique violations as the domain's conflict.
import type { Knex } from 'knex';
import { DomainError } from '../domain/errors.js';

/** Takes a counter row's lock until the transaction ends, changing nothing: a write, so SQLite's rule holds. */
export async function lockCounter(db: Knex | Knex.Transaction, name: string): Promise<void> {
  await db('counters')
    .where({ name })
    .update({ value: db.ref('value') });
}

// PostgreSQL's driver answers bigint columns as strings.
export function nullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

export function isPostgres(db: Knex | Knex.Transaction): boolean {
  return (db.client as { config: { client: unknown } }).config.client === 'pg';
}

export function isTransaction(db: Knex | Knex.Transaction): db is Knex.Transaction {
  return (db as Knex.Transaction).isTransaction === true;
}

/**
 * Turns a unique-constraint violation into the domain's conflict, naming the
 * field that is taken: the database decides races.
 */
export async function rejectTakenKeys<T>(query: PromiseLike<T>): Promise<T> {
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
