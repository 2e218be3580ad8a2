// Deleting an account is erasure, however it is asked for (the user closing
// it, an admin, an operator): one step in the caller's transaction.
import { auditEntry } from './audit.js';
import { DomainError } from './errors.js';
import type { RequestOrigin } from './model.js';
import type { Repositories } from './ports.js';

/**
 * Deletes the account's row with its sessions and pending links, the mail
 * queued to its address and the limits' events keyed by its email; its
 * audit events keep ids and kinds, without addresses. The last admin stays
 * (DomainError 'last_admin'). False when nothing was erased: no such
 * account, or its credential generation is no longer `generation`.
 */
export async function eraseAccount(
  { users, outbox, rateLimits, securityEvents }: Repositories,
  id: number,
  origin: RequestOrigin,
  { generation, actorId }: { generation?: number; actorId?: number },
): Promise<boolean> {
  // The lock order: the users counter (as registrations and admin changes
  // take it; on SQLite a write first, since a transaction that has read
  // can't start writing once another connection wrote), then the limits'
  // events (a login holds them while it waits for the account's row, to
  // open its session or, with a rehash, to replace the hash; taking that
  // row first could deadlock with one on PostgreSQL), then the row. All
  // rolled back if nothing is erased.
  await users.lockAccounts();
  const account = await users.findCredentialsById(id);
  if (!account) return false;
  await rateLimits.deleteKeysOfEmail(account.email);
  const erased = await users.erase(id, generation);
  if (!erased) return false;
  if (erased.role === 'admin' && (await users.countAdmins()) === 0) throw new DomainError('last_admin');
  await outbox.deleteTo(erased.email);
  await securityEvents.forgetAddressesOf(id);
  await securityEvents.insert({ ...auditEntry('account_deleted', id, origin, actorId), address: null });
  return true;
}
