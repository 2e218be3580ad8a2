// Changing a password, however it happens (the user's change, a reset link,
// an operator), is one step in the caller's transaction.
import type { Repositories } from './ports.js';

/**
 * Sets a new password hash only while the credential generation is still
 * `generation`, and moves it on: no login in flight with the old password
 * can open a session, every session ends but `keepSessionId`, and every
 * pending reset link is void. False when another change came first.
 */
export async function replaceCredential(
  { users, sessions, resetTokens }: Repositories,
  userId: number,
  passwordHash: string,
  { generation, keepSessionId }: { generation: number; keepSessionId?: string },
): Promise<boolean> {
  if (!(await users.replacePasswordHash(userId, passwordHash, { generation }))) return false;
  if (keepSessionId === undefined) await sessions.deleteAllOfUser(userId);
  else await sessions.deleteOthersOfUser(userId, keepSessionId);
  await resetTokens.deleteAllOfUser(userId);
  return true;
}
