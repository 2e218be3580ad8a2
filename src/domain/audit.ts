// The security audit trail: one row per security-relevant event, written in
// the same transaction as the change it records.
import type { RequestOrigin } from './model.js';
import type { SecurityEvent, SecurityEventType } from './ports.js';

export function auditEntry(
  type: SecurityEventType,
  userId: number | null,
  origin: RequestOrigin,
  actorId?: number,
): SecurityEvent {
  return { type, user_id: userId, actor_id: actorId ?? null, address: origin.address, request_id: origin.requestId };
}
