// Who may do what, as the contract's Roles section says.
import type { Principal, Role, User } from './model.js';

/** Anyone may register a `user`; moderators and admins are made by admins. */
export function mayAssignRole(actor: Principal | undefined, role: Role): boolean {
  return role === 'user' || actor?.role === 'admin';
}

/** Users edit themselves, moderators also plain users, admins anyone. */
export function mayUpdateProfile(actor: Principal, target: Pick<User, 'id' | 'role'>): boolean {
  if (actor.userId === target.id || actor.role === 'admin') return true;
  return actor.role === 'moderator' && target.role === 'user';
}

/** Whether the actor could update some profiles other than their own. */
export function mayUpdateOthers(actor: Principal): boolean {
  return actor.role === 'admin' || actor.role === 'moderator';
}
