// What the domain needs of the audit trail.

/** The kinds of audit events; the spec's SecurityEventType lists the same (a test compares them). */
export const SECURITY_EVENT_TYPES = [
  'registration',
  'privileged_account_created',
  'login_success',
  'login_failure',
  'lockout',
  'logout',
  'password_change',
  'password_reset',
  'password_reset_requested',
  'sessions_revoked',
  'email_verification_sent',
  'email_verified',
  'email_changed',
  'login_refused_unverified',
  'session_ended',
  'account_deleted',
  'role_changed',
  'account_disabled',
  'account_enabled',
  'login_refused_disabled',
  'refresh_token_reused',
  'signing_key_added',
  'signing_key_retired',
  'login_second_factor_required',
  'second_factor_failure',
  'recovery_code_used',
  'second_factor_enabled',
  'second_factor_removed',
  'recovery_codes_regenerated',
  'reauthenticated',
  'reauthentication_failure',
  'second_factor_reset',
  'email_change_reverted',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export interface SecurityEvent {
  type: SecurityEventType;
  user_id: number | null;
  actor_id?: number | null;
  address: string | null;
  request_id: string | null;
}

/** An audit event as admins read it; `occurred_at` in Unix milliseconds. */
export interface SecurityEventRecord extends Required<SecurityEvent> {
  id: number;
  occurred_at: number;
}

export interface SecurityEventRepository {
  insert(event: SecurityEvent): Promise<void>;
  /** Newest first, optionally of one account and one kind, with how many match. */
  list(
    filter: { userId?: number; type?: SecurityEventType },
    offset: number,
    limit: number,
  ): Promise<{ events: SecurityEventRecord[]; total: number }>;
  /** Removes the client addresses from the events of an account and of its acts: they keep only ids and kinds. */
  forgetAddressesOf(userId: number): Promise<void>;
  /** Deletes the events that happened before `atMs`; says how many. */
  deleteOlderThan(atMs: number): Promise<number>;
}
