// Who may do what, as the contract's Roles section says.
import type { Principal, ProfileChanges, Role, User } from './model.js';

/** Anyone may register a `user`; moderators and admins are made by admins. */
export function mayAssignRole(actor: Principal | undefined, role: Role): boolean {
  return role === 'user' || actor?.role === 'admin';
}

/**
 * Users edit themselves, moderators also plain users but not their email (an
 * email change is the first step of an account takeover), admins anyone.
 */
export function mayUpdateProfile(
  actor: Principal,
  target: Pick<User, 'id' | 'role'>,
  changes: ProfileChanges,
): boolean {
  if (actor.userId === target.id || actor.role === 'admin') return true;
  return actor.role === 'moderator' && target.role === 'user' && changes.email === undefined;
}

/** Whether the actor could update some profiles other than their own. */
export function mayUpdateOthers(actor: Principal): boolean {
  return actor.role === 'admin' || actor.role === 'moderator';
}
