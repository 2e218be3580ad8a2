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
  const account = await users.findCredentialsById(id);
  if (!account) return false;
  // Before the account's row: a login holds its limit events while it waits
  // for that row (to open a session), so taking them in the other order
  // could deadlock with one on PostgreSQL. Rolled back with the rest if
  // nothing is erased.
  await rateLimits.deleteKeysOfEmail(account.email);
  const erased = await users.erase(id, generation);
  if (!erased) return false;
  if (erased.role === 'admin' && (await users.countAdmins()) === 0) throw new DomainError('last_admin');
  await outbox.deleteTo(erased.email);
  await securityEvents.forgetAddressesOf(id);
  await securityEvents.insert({ ...auditEntry('account_deleted', id, origin, actorId), address: null });
  return true;
}
