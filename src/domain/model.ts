// The domain's own vocabulary. Field names follow the contract and the storage
// columns (snake_case) so no layer has to rename them.
export const ROLES = ['user', 'moderator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface UserSummary {
  id: number;
  email: string;
  user_name: string;
  first_name: string;
  last_name: string;
}

export interface User extends UserSummary {
  role: Role;
}

/** A user as admins find them; times in Unix milliseconds. */
export interface AdminUserRecord extends User {
  email_verified_at: number | null;
  disabled_at: number | null;
  created_at: number;
}

/** A user's own view of their account; times in Unix milliseconds. */
export interface AccountRecord extends User {
  email_verified_at: number | null;
  created_at: number;
  password_changed_at: number | null;
}

export interface NewUser {
  email: string;
  user_name: string;
  first_name: string;
  last_name: string;
  password: string;
  role?: Role;
}

export type ProfileChanges = Partial<Pick<User, 'email' | 'user_name' | 'first_name' | 'last_name'>>;

/** How a user proved who they are (RFC 8176 `amr` values): a password, a one-time code. */
export const AUTHENTICATION_METHODS = ['pwd', 'otp'] as const;
export type AuthenticationMethod = (typeof AUTHENTICATION_METHODS)[number];

/** The methods as sessions and pending logins store them: space-separated. */
export function amrText(amr: AuthenticationMethod[]): string {
  return amr.join(' ');
}

export function amrOf(text: string): AuthenticationMethod[] {
  return text.split(' ') as AuthenticationMethod[];
}

/** A session's proof of its user: the methods and when (Unix milliseconds). */
export interface Authentication {
  amr: AuthenticationMethod[];
  at: number;
}

/** Who is making a request: the owner of a valid token and its open session. */
export interface Principal {
  userId: number;
  role: Role;
  sessionId: string;
  emailVerified: boolean;
  /** How and when the session's user last proved who they are (recent authentication). */
  authentication: Authentication;
  /** A profile read in the same statement as the session, when the operation asked for one (undefined: no such user). */
  readAlong?: { userId: number; profile: User | undefined };
}

export interface IssuedToken {
  /** The access token (a JWT). */
  token: string;
  expiresAt: Date;
  /** Opaque; exchanged for the next pair by `SessionService.refresh`. */
  refreshToken: string;
}

/** Where a request came from, for rate limits and the audit trail. */
export interface RequestOrigin {
  address: string;
  requestId: string;
  /** The client's User-Agent, cut to 256 characters, for the user's list of sessions. */
  userAgent?: string;
}
