/* eslint-disable */
/* tslint:disable */
// @ts-nocheck
/*
 * ---------------------------------------------------------------
 * ## THIS FILE WAS GENERATED VIA SWAGGER-TYPESCRIPT-API        ##
 * ##                                                           ##
 * ## AUTHOR: acacode                                           ##
 * ## SOURCE: https://github.com/acacode/swagger-typescript-api ##
 * ---------------------------------------------------------------
 */

export enum RefreshConflictText {
  InvalidRequestBody = "Invalid request body",
  RefreshTokenAlreadyUsed = "Refresh token already used",
}

export enum RefreshRefusedText {
  InvalidOrExpiredRefreshToken = "Invalid or expired refresh token",
}

export enum EmailAlreadyVerifiedText {
  EmailAddressIsAlreadyVerified = "Email address is already verified",
}

export enum VerificationSentText {
  AVerificationLinkIsOnItsWay = "A verification link is on its way",
}

export enum EmailRevertRefusedText {
  IncorrectField = "Incorrect field",
  InvalidOrExpiredRevertToken = "Invalid or expired revert token",
}

export enum EmailVerificationRefusedText {
  IncorrectField = "Incorrect field",
  InvalidOrExpiredVerificationToken = "Invalid or expired verification token",
}

export enum EmailVerifiedText {
  EmailAddressVerified = "Email address verified",
}

export enum AccountStateText {
  AccountDisabled = "Account disabled",
  AccountEnabled = "Account enabled",
}

export enum LastAdminText {
  TheLastAdminCannotBeRemoved = "The last admin cannot be removed",
}

/**
 * The kind of a security event.
 * @example "login_failure"
 */
export enum SecurityEventType {
  Registration = "registration",
  PrivilegedAccountCreated = "privileged_account_created",
  LoginSuccess = "login_success",
  LoginFailure = "login_failure",
  Lockout = "lockout",
  Logout = "logout",
  PasswordChange = "password_change",
  PasswordReset = "password_reset",
  PasswordResetRequested = "password_reset_requested",
  SessionsRevoked = "sessions_revoked",
  EmailVerificationSent = "email_verification_sent",
  EmailVerified = "email_verified",
  EmailChanged = "email_changed",
  LoginRefusedUnverified = "login_refused_unverified",
  SessionEnded = "session_ended",
  AccountDeleted = "account_deleted",
  RoleChanged = "role_changed",
  AccountDisabled = "account_disabled",
  AccountEnabled = "account_enabled",
  LoginRefusedDisabled = "login_refused_disabled",
  RefreshTokenReused = "refresh_token_reused",
  SigningKeyAdded = "signing_key_added",
  SigningKeyRetired = "signing_key_retired",
  LoginSecondFactorRequired = "login_second_factor_required",
  SecondFactorFailure = "second_factor_failure",
  RecoveryCodeUsed = "recovery_code_used",
  SecondFactorEnabled = "second_factor_enabled",
  SecondFactorRemoved = "second_factor_removed",
  RecoveryCodesRegenerated = "recovery_codes_regenerated",
  Reauthenticated = "reauthenticated",
  ReauthenticationFailure = "reauthentication_failure",
  SecondFactorReset = "second_factor_reset",
  EmailChangeReverted = "email_change_reverted",
}

export enum SessionNotFoundText {
  SessionNotFound = "Session not found",
}

export enum SessionEndedText {
  SessionEnded = "Session ended",
}

/**
 * How a session's user proved who they are (RFC 8176): `pwd` a password,
 * `otp` a one-time code (an authenticator app's or a recovery code).
 */
export enum AuthenticationMethod {
  Password = "pwd",
  OneTimePassword = "otp",
}

export enum InvalidCodeText {
  IncorrectField = "Incorrect field",
  InvalidCode = "Invalid code",
}

export enum SecondFactorStateText {
  InvalidRequestBody = "Invalid request body",
  SecondFactorAlreadyActive = "Second factor already active",
  NoEnrollmentInProgress = "No second factor enrollment in progress",
  NoSecondFactorActive = "No second factor active",
}

export enum AccountForbiddenText {
  EmailAddressNotVerified = "Email address not verified",
  RecentAuthenticationRequired = "Recent authentication required",
  SecondFactorRequired = "Second factor required",
}

export enum ReauthenticationRefusedText {
  IncorrectField = "Incorrect field",
  PasswordIsIncorrect = "Invalid request: Password is incorrect",
  InvalidCode = "Invalid code",
}

export enum RemovalConflictText {
  InvalidRequestBody = "Invalid request body",
  TheLastAdminCannotBeRemoved = "The last admin cannot be removed",
}

export enum AccountClosureRefusedText {
  IncorrectField = "Incorrect field",
  InvalidRequestPasswordIsIncorrect = "Invalid request: Password is incorrect",
}

export enum AccountClosedText {
  AccountDeleted = "Account deleted",
}

export enum PasswordResetRefusedText {
  IncorrectField = "Incorrect field",
  InvalidOrExpiredResetToken = "Invalid or expired reset token",
}

export enum PasswordResetText {
  PasswordHasBeenReset = "Password has been reset",
}

export enum PasswordResetRequestedText {
  IfAnAccountHasThisEmailAResetLinkIsOnItsWay = "If an account has this email, a reset link is on its way",
}

export enum TokenValidText {
  TokenIsValid = "Token is valid",
}

export enum InvalidOrExpiredTokenText {
  InvalidOrExpiredToken = "Invalid or expired token",
}

export enum LogoutText {
  LogoutSuccessful = "Logout successful",
}

export enum MfaLoginRefusedText {
  InvalidOrExpiredMfaToken = "Invalid or expired MFA token",
  InvalidCode = "Invalid code",
}

export enum LoginRefusedText {
  AccountDisabled = "Account disabled",
  EmailAddressNotVerified = "Email address not verified",
}

export enum InvalidCredentialsText {
  InvalidCredentials = "Invalid credentials",
}

/**
 * `totp`: a 6-digit code from an authenticator app; `recovery_code`: one
 * of the codes shown at enrolment.
 */
export enum MfaMethod {
  Totp = "totp",
  RecoveryCode = "recovery_code",
}

export enum PasswordChangeRefusedText {
  IncorrectField = "Incorrect field",
  InvalidRequestOldPasswordIsIncorrect = "Invalid request: Old password is incorrect",
}

export enum PasswordUpdatedText {
  PasswordUpdatedSuccessfully = "Password updated successfully",
}

export enum ProfileChangeForbiddenText {
  Forbidden = "Forbidden",
  EmailAddressNotVerified = "Email address not verified",
  SecondFactorRequired = "Second factor required",
  RecentAuthenticationRequired = "Recent authentication required",
}

export enum UserNotFoundText {
  UserNotFound = "User not found",
}

export enum EmailNotVerifiedText {
  EmailAddressNotVerified = "Email address not verified",
  SecondFactorRequired = "Second factor required",
}

export enum WrongPageParametersText {
  WrongParametersPagePerPage = "wrong parameters page, per_page",
}

export enum ServiceBusyText {
  ServiceBusyTryAgainLater = "Service busy, try again later",
}

export enum InternalServerErrorText {
  InternalServerError = "Internal server error",
}

export enum TooManyRequestsText {
  TooManyRequests = "Too many requests",
}

export enum TakenFieldText {
  BelongsToAnotherAccount = "belongs to another account",
}

export enum TakenFieldName {
  Email = "body.email",
  UserName = "body.user_name",
}

export enum InvalidRequestBodyText {
  InvalidRequestBody = "Invalid request body",
}

export enum NotPermittedText {
  Forbidden = "Forbidden",
  EmailAddressNotVerified = "Email address not verified",
  SecondFactorRequired = "Second factor required",
}

export enum UserAuthenticationFailedText {
  UnauthorizedUserAuthenticationFailed = "Unauthorized: User authentication failed",
}

export enum IncorrectFieldText {
  IncorrectField = "Incorrect field",
}

/**
 * `user` (the default), `moderator` (may also update users whose role is
 * `user`) or `admin` (may update anyone and create moderators and admins).
 * @example "user"
 */
export enum Role {
  User = "user",
  Moderator = "moderator",
  Admin = "admin",
}

/**
 * An email address as sent. Surrounding whitespace is trimmed and the
 * text NFKC-normalized; the result must then be a valid address
 * (`format: email`) of at most 254 characters. Stored lower-case, so
 * `" Jane.Doe@Example.COM "` is accepted as `jane.doe@example.com`.
 * Where mail is sent to it (registration, an email change, a reset
 * request), an address a mail relay could reroute is refused with `400
 * Incorrect field`: `=?`, `%` or `!` before the `@` (encoded words,
 * percent and bang routing), or more than 64 characters before it
 * (RFC 5321).
 * @maxLength 1000
 * @example "jane.doe@example.com"
 */
export type EmailInput = string;

/**
 * A user name as sent. Surrounding whitespace is trimmed and the text
 * NFKC-normalized (full-width letters become ASCII); the result must
 * then be 3 to 32 ASCII letters, digits, `_`, `.` or `-`.
 * @maxLength 1000
 * @example "jane.doe"
 */
export type UserNameInput = string;

/**
 * A name as sent. Surrounding whitespace is trimmed and the text
 * NFKC-normalized; the result must then be 1 to 100 characters, any
 * script.
 * @maxLength 1000
 * @example "Jane"
 */
export type PersonNameInput = string;

/**
 * 8 to 128 characters (code points), counted as sent and again after
 * NFKC normalization. A longer password is refused, never truncated.
 * One of the ~18,000 most common passwords (zxcvbn-ts's list, compared
 * case-blind) is refused with `400` and a detail saying so. Stored only
 * as an argon2id hash of its NFKC form, so the same password typed as
 * composed or decomposed characters matches.
 * @format password
 * @minLength 8
 * @maxLength 128
 * @example "correct-horse-battery"
 */
export type NewPassword = string;

export interface NewUser {
  /**
   * An email address as sent. Surrounding whitespace is trimmed and the
   * text NFKC-normalized; the result must then be a valid address
   * (`format: email`) of at most 254 characters. Stored lower-case, so
   * `" Jane.Doe@Example.COM "` is accepted as `jane.doe@example.com`.
   * Where mail is sent to it (registration, an email change, a reset
   * request), an address a mail relay could reroute is refused with `400
   * Incorrect field`: `=?`, `%` or `!` before the `@` (encoded words,
   * percent and bang routing), or more than 64 characters before it
   * (RFC 5321).
   */
  email: EmailInput;
  /**
   * A user name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized (full-width letters become ASCII); the result must
   * then be 3 to 32 ASCII letters, digits, `_`, `.` or `-`.
   */
  user_name: UserNameInput;
  /**
   * A name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized; the result must then be 1 to 100 characters, any
   * script.
   */
  first_name: PersonNameInput;
  /**
   * A name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized; the result must then be 1 to 100 characters, any
   * script.
   */
  last_name: PersonNameInput;
  /**
   * 8 to 128 characters (code points), counted as sent and again after
   * NFKC normalization. A longer password is refused, never truncated.
   * One of the ~18,000 most common passwords (zxcvbn-ts's list, compared
   * case-blind) is refused with `400` and a detail saying so. Stored only
   * as an argon2id hash of its NFKC form, so the same password typed as
   * composed or decomposed characters matches.
   */
  password: NewPassword;
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role?: Role;
}

/**
 * A JWT (ES256, or HS256 where configured) to send as `Authorization: Bearer <token>`.
 * @maxLength 2048
 * @pattern ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$
 * @example "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
 */
export type Token = string;

/**
 * An opaque refresh token (256 random bits, base64url): send it to
 * `POST /token/refresh` for the next access token. Keep it secret; the
 * service stores only a hash of it.
 * @minLength 43
 * @maxLength 43
 * @pattern ^[A-Za-z0-9_-]{43}$
 * @example "3q2-7wIr6cF0ZmxlBv1yxbYqQ8fT0u8cZ9r4Gm2sJkA"
 */
export type RefreshToken = string;

export interface RegistrationToken {
  /** A JWT (ES256, or HS256 where configured) to send as `Authorization: Bearer <token>`. */
  JWT: Token;
  /**
   * An opaque refresh token (256 random bits, base64url): send it to
   * `POST /token/refresh` for the next access token. Keep it secret; the
   * service stores only a hash of it.
   */
  refresh_token: RefreshToken;
}

/** One field that failed validation. */
export interface FieldProblem {
  /**
   * Where the problem is, for example `body.email`, `params.user_id` or `query.page`.
   * @maxLength 200
   * @pattern ^[A-Za-z0-9_.$-]+$
   * @example "body.email"
   */
  field: string;
  /**
   * What is wrong, in English, for developers.
   * @maxLength 500
   * @example "must match format "email""
   */
  message: string;
}

/**
 * Every error body. `error` is one of the texts documented on the
 * response, word for word; `details` appears on `400` answers to invalid
 * input, naming the fields that failed, and on the `409` for a taken
 * email or user name, naming the field that is taken.
 */
export interface ErrorBody {
  /**
   * What went wrong, in the contract's exact words.
   * @maxLength 100
   * @example "Incorrect field"
   */
  error: string;
  /**
   * The fields that failed validation, or the one that is taken.
   * @maxItems 20
   */
  details?: FieldProblem[];
}

export type IncorrectFieldError = ErrorBody & {
  error?: IncorrectFieldText;
};

export type UserAuthenticationFailedError = ErrorBody & {
  error?: UserAuthenticationFailedText;
};

export type NotPermittedError = ErrorBody & {
  error?: NotPermittedText;
};

/** The email or user name that already belongs to another account. */
export interface TakenField {
  field: TakenFieldName;
  message: TakenFieldText;
}

export type InvalidRequestBodyOrTakenError = ErrorBody & {
  error?: InvalidRequestBodyText;
  /**
   * Only when the email or user name belongs to another account:
   * names that field (one, also when both are taken). An unreadable
   * body has no `details`.
   * @maxItems 1
   * @minItems 1
   */
  details?: TakenField[];
};

export type TooManyRequestsError = ErrorBody & {
  error?: TooManyRequestsText;
};

export type InternalServerErrorBody = ErrorBody & {
  error?: InternalServerErrorText;
};

export type ServiceBusyError = ErrorBody & {
  error?: ServiceBusyText;
};

/**
 * The user's id.
 * @format int32
 * @min 1
 * @max 2147483647
 * @example 1
 */
export type UserId = number;

/**
 * An email address; stored lower-case, unique without regard to case.
 * @format email
 * @maxLength 254
 * @example "jane.doe@example.com"
 */
export type Email = string;

/**
 * 3 to 32 ASCII letters, digits, `_`, `.` or `-` (after NFKC
 * normalization); unique without regard to case.
 * @minLength 3
 * @maxLength 32
 * @pattern ^[A-Za-z0-9_.-]+$
 * @example "jane.doe"
 */
export type UserName = string;

/**
 * 1 to 100 characters, any script.
 * @minLength 1
 * @maxLength 100
 * @example "Jane"
 */
export type PersonName = string;

export interface UserSummary {
  /** The user's id. */
  id: UserId;
  /** An email address; stored lower-case, unique without regard to case. */
  email: Email;
  /**
   * 3 to 32 ASCII letters, digits, `_`, `.` or `-` (after NFKC
   * normalization); unique without regard to case.
   */
  user_name: UserName;
  /** 1 to 100 characters, any script. */
  first_name: PersonName;
  /** 1 to 100 characters, any script. */
  last_name: PersonName;
}

export interface UserPage {
  /** @maxItems 100 */
  users: UserSummary[];
  /**
   * @format int32
   * @min 1
   * @max 2147483647
   * @example 1
   */
  page: number;
  /**
   * @format int32
   * @min 1
   * @max 100
   * @example 10
   */
  per_page: number;
  /**
   * @format int64
   * @min 0
   * @max 9007199254740991
   * @example 2
   */
  total_users: number;
}

export type WrongPageParametersError = ErrorBody & {
  error?: WrongPageParametersText;
};

export type EmailNotVerifiedError = ErrorBody & {
  error?: EmailNotVerifiedText;
};

export interface UserProfile {
  /** The user's id. */
  id: UserId;
  /** An email address; stored lower-case, unique without regard to case. */
  email: Email;
  /**
   * 3 to 32 ASCII letters, digits, `_`, `.` or `-` (after NFKC
   * normalization); unique without regard to case.
   */
  user_name: UserName;
  /** 1 to 100 characters, any script. */
  first_name: PersonName;
  /** 1 to 100 characters, any script. */
  last_name: PersonName;
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role: Role;
}

export type UserNotFoundError = ErrorBody & {
  error?: UserNotFoundText;
};

/** Any non-empty subset of the profile fields. */
export interface ProfileChanges {
  /**
   * An email address as sent. Surrounding whitespace is trimmed and the
   * text NFKC-normalized; the result must then be a valid address
   * (`format: email`) of at most 254 characters. Stored lower-case, so
   * `" Jane.Doe@Example.COM "` is accepted as `jane.doe@example.com`.
   * Where mail is sent to it (registration, an email change, a reset
   * request), an address a mail relay could reroute is refused with `400
   * Incorrect field`: `=?`, `%` or `!` before the `@` (encoded words,
   * percent and bang routing), or more than 64 characters before it
   * (RFC 5321).
   */
  email?: EmailInput;
  /**
   * A user name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized (full-width letters become ASCII); the result must
   * then be 3 to 32 ASCII letters, digits, `_`, `.` or `-`.
   */
  user_name?: UserNameInput;
  /**
   * A name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized; the result must then be 1 to 100 characters, any
   * script.
   */
  first_name?: PersonNameInput;
  /**
   * A name as sent. Surrounding whitespace is trimmed and the text
   * NFKC-normalized; the result must then be 1 to 100 characters, any
   * script.
   */
  last_name?: PersonNameInput;
}

export interface UpdatedUser {
  /** The user's id. */
  id: UserId;
}

export type ProfileChangeForbiddenError = ErrorBody & {
  error?: ProfileChangeForbiddenText;
};

/**
 * A password as the user knows it.
 * @format password
 * @minLength 1
 * @maxLength 128
 * @example "correct-horse-battery"
 */
export type GivenPassword = string;

export interface PasswordChange {
  /** A password as the user knows it. */
  existing_password: GivenPassword;
  /**
   * 8 to 128 characters (code points), counted as sent and again after
   * NFKC normalization. A longer password is refused, never truncated.
   * One of the ~18,000 most common passwords (zxcvbn-ts's list, compared
   * case-blind) is refused with `400` and a detail saying so. Stored only
   * as an argon2id hash of its NFKC form, so the same password typed as
   * composed or decomposed characters matches.
   */
  password: NewPassword;
}

export interface PasswordUpdatedMessage {
  message: PasswordUpdatedText;
}

export type PasswordChangeRefusedError = ErrorBody & {
  error?: PasswordChangeRefusedText;
};

export type InvalidRequestBodyError = ErrorBody & {
  error?: InvalidRequestBodyText;
};

export interface Credentials {
  /**
   * An email address as sent. Surrounding whitespace is trimmed and the
   * text NFKC-normalized; the result must then be a valid address
   * (`format: email`) of at most 254 characters. Stored lower-case, so
   * `" Jane.Doe@Example.COM "` is accepted as `jane.doe@example.com`.
   * Where mail is sent to it (registration, an email change, a reset
   * request), an address a mail relay could reroute is refused with `400
   * Incorrect field`: `=?`, `%` or `!` before the `@` (encoded words,
   * percent and bang routing), or more than 64 characters before it
   * (RFC 5321).
   */
  email: EmailInput;
  /** A password as the user knows it. */
  password: GivenPassword;
}

export interface LoginResult {
  /** A JWT (ES256, or HS256 where configured) to send as `Authorization: Bearer <token>`. */
  access_token: Token;
  /**
   * When the token expires (its `exp`), ISO 8601 in UTC.
   * @format date-time
   * @maxLength 30
   * @example "2023-01-01T12:00:00Z"
   */
  expires_at: string;
  /**
   * An opaque refresh token (256 random bits, base64url): send it to
   * `POST /token/refresh` for the next access token. Keep it secret; the
   * service stores only a hash of it.
   */
  refresh_token: RefreshToken;
}

/**
 * Opaque, 256 random bits in base64url: the pending login it was issued
 * for. Single-use; lives `MFA_TOKEN_TTL_SECONDS` (default 300); void after
 * 5 wrong codes.
 * @minLength 43
 * @maxLength 43
 * @pattern ^[A-Za-z0-9_-]{43}$
 * @example "9Qh3W1s0c2YxZ0JkV3Zr5mN4aGp0cUVYbDJ1ZnR3eXM"
 */
export type MfaToken = string;

/**
 * The password was right and the account has a second factor: no session
 * yet. Send the `mfa_token` with a code to `POST /login/mfa`.
 */
export interface MfaChallenge {
  mfa_required: true;
  /**
   * Opaque, 256 random bits in base64url: the pending login it was issued
   * for. Single-use; lives `MFA_TOKEN_TTL_SECONDS` (default 300); void after
   * 5 wrong codes.
   */
  mfa_token: MfaToken;
  /**
   * The ways the login may be completed.
   * @maxItems 2
   * @minItems 1
   * @uniqueItems true
   */
  methods: MfaMethod[];
  /**
   * When the `mfa_token` expires, ISO 8601 in UTC.
   * @format date-time
   * @maxLength 30
   */
  expires_at: string;
}

export type InvalidCredentialsError = ErrorBody & {
  error?: InvalidCredentialsText;
};

export type LoginRefusedError = ErrorBody & {
  error?: LoginRefusedText;
};

/**
 * The 6-digit code the authenticator app shows now (RFC 6238, 30-second steps).
 * @minLength 6
 * @maxLength 6
 * @pattern ^[0-9]{6}$
 * @example "123456"
 */
export type TotpCode = string;

/**
 * A recovery code as shown (`XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`); compared
 * without regard to case, spaces and dashes. Each works once.
 * @minLength 24
 * @maxLength 40
 * @pattern ^[A-Za-z0-9 -]{24,40}$
 * @example "7KQ2-M9XD-4TRB-HN6P-W3ZC-8FJV"
 */
export type RecoveryCode = string;

/** The `mfa_token` from the login's `202` and exactly one of `code` and `recovery_code`. */
export type MfaCompletion = {
  /**
   * Opaque, 256 random bits in base64url: the pending login it was issued
   * for. Single-use; lives `MFA_TOKEN_TTL_SECONDS` (default 300); void after
   * 5 wrong codes.
   */
  mfa_token: MfaToken;
  /** The 6-digit code the authenticator app shows now (RFC 6238, 30-second steps). */
  code?: TotpCode;
  /**
   * A recovery code as shown (`XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`); compared
   * without regard to case, spaces and dashes. Each works once.
   */
  recovery_code?: RecoveryCode;
};

export type MfaLoginRefusedError = ErrorBody & {
  error?: MfaLoginRefusedText;
};

export interface LogoutMessage {
  message: LogoutText;
}

export type InvalidOrExpiredTokenError = ErrorBody & {
  error?: InvalidOrExpiredTokenText;
};

export interface TokenValidMessage {
  message: TokenValidText;
}

export interface PasswordResetRequest {
  /**
   * An email address as sent. Surrounding whitespace is trimmed and the
   * text NFKC-normalized; the result must then be a valid address
   * (`format: email`) of at most 254 characters. Stored lower-case, so
   * `" Jane.Doe@Example.COM "` is accepted as `jane.doe@example.com`.
   * Where mail is sent to it (registration, an email change, a reset
   * request), an address a mail relay could reroute is refused with `400
   * Incorrect field`: `=?`, `%` or `!` before the `@` (encoded words,
   * percent and bang routing), or more than 64 characters before it
   * (RFC 5321).
   */
  email: EmailInput;
}

export interface PasswordResetRequestedMessage {
  message: PasswordResetRequestedText;
}

export interface PasswordReset {
  /**
   * The token from the reset link.
   * @minLength 1
   * @maxLength 200
   */
  token: string;
  /**
   * 8 to 128 characters (code points), counted as sent and again after
   * NFKC normalization. A longer password is refused, never truncated.
   * One of the ~18,000 most common passwords (zxcvbn-ts's list, compared
   * case-blind) is refused with `400` and a detail saying so. Stored only
   * as an argon2id hash of its NFKC form, so the same password typed as
   * composed or decomposed characters matches.
   */
  password: NewPassword;
}

export interface PasswordResetMessage {
  message: PasswordResetText;
}

export type PasswordResetRefusedError = ErrorBody & {
  error?: PasswordResetRefusedText;
};

/**
 * A moment, ISO 8601 in UTC with milliseconds.
 * @format date-time
 * @maxLength 30
 * @example "2026-01-02T09:30:00.000Z"
 */
export type Timestamp = string;

export interface Account {
  /** The user's id. */
  id: UserId;
  /** An email address; stored lower-case, unique without regard to case. */
  email: Email;
  /**
   * 3 to 32 ASCII letters, digits, `_`, `.` or `-` (after NFKC
   * normalization); unique without regard to case.
   */
  user_name: UserName;
  /** 1 to 100 characters, any script. */
  first_name: PersonName;
  /** 1 to 100 characters, any script. */
  last_name: PersonName;
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role: Role;
  /** Whether the owner of the current email has followed a verification link to it. */
  email_verified: boolean;
  /**
   * When the current email was verified; `null` while it is not.
   * @format date-time
   * @maxLength 30
   */
  email_verified_at: string | null;
  /** A moment, ISO 8601 in UTC with milliseconds. */
  created_at: Timestamp;
  /**
   * When the password was last set (at creation, a change or a reset);
   * `null` only for an account made before this was recorded whose
   * password has not changed since.
   * @format date-time
   * @maxLength 30
   */
  password_changed_at: string | null;
  /** Whether logins need a second factor (an authenticator app is confirmed). */
  mfa_enabled: boolean;
  /**
   * How many recovery codes are still unused; `0` without a second factor.
   * @format int32
   * @min 0
   * @max 10
   */
  recovery_codes_left: number;
}

export interface AccountClosure {
  /** A password as the user knows it. */
  password: GivenPassword;
}

export interface AccountClosedMessage {
  message: AccountClosedText;
}

export type AccountClosureRefusedError = ErrorBody & {
  error?: AccountClosureRefusedText;
};

export type RemovalConflictError = ErrorBody & {
  error?: RemovalConflictText;
};

/** The account's password, and when a second factor is active, a current code or a recovery code. */
export interface Reauthentication {
  /** A password as the user knows it. */
  password: GivenPassword;
  /** The 6-digit code the authenticator app shows now (RFC 6238, 30-second steps). */
  code?: TotpCode;
  /**
   * A recovery code as shown (`XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`); compared
   * without regard to case, spaces and dashes. Each works once.
   */
  recovery_code?: RecoveryCode;
}

export interface RecentAuthentication {
  /**
   * When the session last proved its user (now).
   * @format date-time
   * @maxLength 30
   */
  authenticated_at: string;
  /**
   * Until when operations that need recent authentication accept it (`REAUTH_MAX_AGE_SECONDS`).
   * @format date-time
   * @maxLength 30
   */
  recent_until: string;
}

export type ReauthenticationRefusedError = ErrorBody & {
  error?: ReauthenticationRefusedText;
};

export interface TotpEnrollment {
  /**
   * The shared secret (160 bits, base32), for typing into an app that can't scan.
   * @minLength 32
   * @maxLength 32
   * @pattern ^[A-Z2-7]{32}$
   * @example "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
   */
  secret: string;
  /**
   * The `otpauth://totp/` URI that authenticator apps read: label
   * `MFA_ISSUER:email`, `issuer=MFA_ISSUER`, SHA1, 6 digits, 30 seconds.
   * @maxLength 1024
   * @pattern ^otpauth://totp/
   * @example "otpauth://totp/User%20Service:jane.doe%40example.com?issuer=User%20Service&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"
   */
  otpauth_uri: string;
  /**
   * The URI as a QR code, an SVG image. Show it as an image (e.g.
   * `<img src="data:image/svg+xml;base64,...">`), not as markup in your page.
   * @maxLength 65536
   * @pattern ^<svg
   */
  qr_svg: string;
}

export type AccountForbiddenError = ErrorBody & {
  error?: AccountForbiddenText;
};

export type SecondFactorStateError = ErrorBody & {
  error?: SecondFactorStateText;
};

export interface TotpConfirmation {
  /** The 6-digit code the authenticator app shows now (RFC 6238, 30-second steps). */
  code: TotpCode;
}

export interface RecoveryCodes {
  /**
   * Ten single-use codes, shown this once; the service keeps only their hashes.
   * @maxItems 10
   * @minItems 10
   */
  recovery_codes: RecoveryCode[];
}

export type InvalidCodeError = ErrorBody & {
  error?: InvalidCodeText;
};

/** A current code from the authenticator app, or one of the recovery codes. */
export type SecondFactorProof = {
  /** The 6-digit code the authenticator app shows now (RFC 6238, 30-second steps). */
  code?: TotpCode;
  /**
   * A recovery code as shown (`XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`); compared
   * without regard to case, spaces and dashes. Each works once.
   */
  recovery_code?: RecoveryCode;
};

export interface SecondFactorRemovedMessage {
  message: "Second factor removed";
}

/**
 * A session's id (its tokens' `jti`), lower-case.
 * @format uuid
 * @minLength 36
 * @maxLength 36
 * @pattern ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$
 * @example "0b6c9a52-8d1e-4f3a-9c27-5e4d3b2a1f00"
 */
export type SessionId = string;

export interface Session {
  /** A session's id (its tokens' `jti`), lower-case. */
  id: SessionId;
  /**
   * How its user signed in (RFC 8176 `amr`), e.g. `["pwd", "otp"]`; a refresh keeps them.
   * @maxItems 4
   * @minItems 1
   */
  methods: AuthenticationMethod[];
  /** A moment, ISO 8601 in UTC with milliseconds. */
  authenticated_at: Timestamp;
  /** A moment, ISO 8601 in UTC with milliseconds. */
  created_at: Timestamp;
  /** A moment, ISO 8601 in UTC with milliseconds. */
  expires_at: Timestamp;
  /**
   * The client address the session started from (see `TRUST_PROXY`).
   * @maxLength 64
   */
  address: string | null;
  /**
   * The `User-Agent` it started with, cut to 256 characters.
   * @maxLength 256
   */
  user_agent: string | null;
  /** Whether this is the session of the token sent. */
  current: boolean;
}

export interface SessionList {
  /** @maxItems 100 */
  sessions: Session[];
}

export interface SessionsEnded {
  /**
   * How many sessions ended.
   * @format int32
   * @min 0
   * @max 2147483647
   */
  ended: number;
}

export interface SessionEndedMessage {
  message: SessionEndedText;
}

export type SessionNotFoundError = ErrorBody & {
  error?: SessionNotFoundText;
};

export interface AdminUserView {
  /** The user's id. */
  id: UserId;
  /** An email address; stored lower-case, unique without regard to case. */
  email: Email;
  /**
   * 3 to 32 ASCII letters, digits, `_`, `.` or `-` (after NFKC
   * normalization); unique without regard to case.
   */
  user_name: UserName;
  /** 1 to 100 characters, any script. */
  first_name: PersonName;
  /** 1 to 100 characters, any script. */
  last_name: PersonName;
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role: Role;
  email_verified: boolean;
  disabled: boolean;
  /** A moment, ISO 8601 in UTC with milliseconds. */
  created_at: Timestamp;
}

export interface UserSearchPage {
  /** @maxItems 100 */
  users: AdminUserView[];
  /**
   * @format int32
   * @min 1
   * @max 2147483647
   */
  page: number;
  /**
   * @format int32
   * @min 1
   * @max 100
   */
  per_page: number;
  /**
   * @format int64
   * @min 0
   * @max 9007199254740991
   */
  total_users: number;
}

export interface AuditEvent {
  /**
   * @format int64
   * @min 1
   * @max 9007199254740991
   */
  id: number;
  /** The kind of a security event. */
  type: SecurityEventType;
  /**
   * The account acted on; `null` for a failed login with an email no account has.
   * @format int32
   * @min 1
   * @max 2147483647
   */
  user_id: number | null;
  /**
   * Who acted, when not the account's owner (an admin).
   * @format int32
   * @min 1
   * @max 2147483647
   */
  actor_id: number | null;
  /**
   * The client address; `null` once the account is deleted, and for operators (`cli`).
   * @maxLength 64
   */
  address: string | null;
  /** @maxLength 64 */
  request_id: string | null;
  /** A moment, ISO 8601 in UTC with milliseconds. */
  occurred_at: Timestamp;
}

export interface AuditPage {
  /** @maxItems 100 */
  events: AuditEvent[];
  /**
   * @format int32
   * @min 1
   * @max 2147483647
   */
  page: number;
  /**
   * @format int32
   * @min 1
   * @max 100
   */
  per_page: number;
  /**
   * @format int64
   * @min 0
   * @max 9007199254740991
   */
  total: number;
}

export type LastAdminError = ErrorBody & {
  error?: LastAdminText;
};

export interface RoleChange {
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role: Role;
}

export interface UserRole {
  /** The user's id. */
  id: UserId;
  /**
   * `user` (the default), `moderator` (may also update users whose role is
   * `user`) or `admin` (may update anyone and create moderators and admins).
   */
  role: Role;
}

export interface AccountStateMessage {
  message: AccountStateText;
}

export interface SecondFactorResetMessage {
  message: "Second factor reset";
}

export interface EmailVerification {
  /**
   * The token from the verification link.
   * @minLength 1
   * @maxLength 200
   */
  token: string;
}

export interface EmailVerifiedMessage {
  message: EmailVerifiedText;
}

export type EmailVerificationRefusedError = ErrorBody & {
  error?: EmailVerificationRefusedText;
};

export interface EmailRestoredMessage {
  message: "Email address restored";
}

export type EmailRevertRefusedError = ErrorBody & {
  error?: EmailRevertRefusedText;
};

export interface VerificationSentMessage {
  message: VerificationSentText;
}

export type EmailAlreadyVerifiedError = ErrorBody & {
  error?: EmailAlreadyVerifiedText;
};

export interface TokenRefresh {
  /**
   * An opaque refresh token (256 random bits, base64url): send it to
   * `POST /token/refresh` for the next access token. Keep it secret; the
   * service stores only a hash of it.
   */
  refresh_token: RefreshToken;
}

export type RefreshRefusedError = ErrorBody & {
  error?: RefreshRefusedText;
};

export type RefreshConflictError = ErrorBody & {
  error?: RefreshConflictText;
};

/** A P-256 public key (RFC 7518 §6.2) for checking ES256 signatures. */
export interface JsonWebKey {
  kty: "EC";
  crv: "P-256";
  /**
   * @maxLength 43
   * @pattern ^[A-Za-z0-9_-]{43}$
   */
  x: string;
  /**
   * @maxLength 43
   * @pattern ^[A-Za-z0-9_-]{43}$
   */
  y: string;
  /**
   * The key's id, as in the `kid` header of the tokens it signed.
   * @maxLength 64
   * @pattern ^[A-Za-z0-9_-]+$
   */
  kid: string;
  alg: "ES256";
  use: "sig";
}

export interface JsonWebKeySet {
  /** @maxItems 50 */
  keys: JsonWebKey[];
}

export interface Liveness {
  status: "ok";
}

export interface Ready {
  status: "ready";
}

export interface NotReady {
  status: "unavailable";
  reason: "database unreachable" | "migrations pending" | "shutting down";
}

export type QueryParamsType = Record<string | number, any>;
export type ResponseFormat = keyof Omit<Body, "body" | "bodyUsed">;

export interface FullRequestParams extends Omit<RequestInit, "body"> {
  /** set parameter to `true` for call `securityWorker` for this request */
  secure?: boolean;
  /** request path */
  path: string;
  /** content type of request body */
  type?: ContentType;
  /** query params */
  query?: QueryParamsType;
  /** format of response (i.e. response.json() -> format: "json") */
  format?: ResponseFormat;
  /** request body */
  body?: unknown;
  /** base url */
  baseUrl?: string;
  /** request cancellation token */
  cancelToken?: CancelToken;
}

export type RequestParams = Omit<
  FullRequestParams,
  "body" | "method" | "query" | "path"
>;

export interface ApiConfig<SecurityDataType = unknown> {
  baseUrl?: string;
  baseApiParams?: Omit<RequestParams, "baseUrl" | "cancelToken" | "signal">;
  securityWorker?: (
    securityData: SecurityDataType | null,
  ) => Promise<RequestParams | void> | RequestParams | void;
  customFetch?: typeof fetch;
}

export interface HttpResponse<D extends unknown, E extends unknown = unknown>
  extends Response {
  data: D;
  error: E;
}

type CancelToken = Symbol | string | number;

export enum ContentType {
  Json = "application/json",
  JsonApi = "application/vnd.api+json",
  FormData = "multipart/form-data",
  UrlEncoded = "application/x-www-form-urlencoded",
  Text = "text/plain",
}

export class HttpClient<SecurityDataType = unknown> {
  public baseUrl: string = "http://localhost:3000";
  private securityData: SecurityDataType | null = null;
  private securityWorker?: ApiConfig<SecurityDataType>["securityWorker"];
  private abortControllers = new Map<CancelToken, AbortController>();
  private customFetch = (...fetchParams: Parameters<typeof fetch>) =>
    fetch(...fetchParams);

  private baseApiParams: RequestParams = {
    credentials: "same-origin",
    headers: {},
    redirect: "follow",
    referrerPolicy: "no-referrer",
  };

  constructor(apiConfig: ApiConfig<SecurityDataType> = {}) {
    Object.assign(this, apiConfig);
  }

  public setSecurityData = (data: SecurityDataType | null) => {
    this.securityData = data;
  };

  protected encodeQueryParam(key: string, value: any) {
    const encodedKey = encodeURIComponent(key);
    return `${encodedKey}=${encodeURIComponent(typeof value === "number" ? value : `${value}`)}`;
  }

  protected addQueryParam(query: QueryParamsType, key: string) {
    return this.encodeQueryParam(key, query[key]);
  }

  protected addArrayQueryParam(query: QueryParamsType, key: string) {
    const value = query[key];
    return value.map((v: any) => this.encodeQueryParam(key, v)).join("&");
  }

  protected toQueryString(rawQuery?: QueryParamsType): string {
    const query = rawQuery || {};
    const keys = Object.keys(query).filter(
      (key) => "undefined" !== typeof query[key],
    );
    return keys
      .map((key) =>
        Array.isArray(query[key])
          ? this.addArrayQueryParam(query, key)
          : this.addQueryParam(query, key),
      )
      .join("&");
  }

  protected addQueryParams(rawQuery?: QueryParamsType): string {
    const queryString = this.toQueryString(rawQuery);
    return queryString ? `?${queryString}` : "";
  }

  private contentFormatters: Record<ContentType, (input: any) => any> = {
    [ContentType.Json]: (input: any) =>
      input !== null && (typeof input === "object" || typeof input === "string")
        ? JSON.stringify(input)
        : input,
    [ContentType.JsonApi]: (input: any) =>
      input !== null && (typeof input === "object" || typeof input === "string")
        ? JSON.stringify(input)
        : input,
    [ContentType.Text]: (input: any) =>
      input !== null && typeof input !== "string"
        ? JSON.stringify(input)
        : input,
    [ContentType.FormData]: (input: any) => {
      if (input instanceof FormData) {
        return input;
      }

      return Object.keys(input || {}).reduce((formData, key) => {
        const property = input[key];
        formData.append(
          key,
          property instanceof Blob
            ? property
            : typeof property === "object" && property !== null
              ? JSON.stringify(property)
              : `${property}`,
        );
        return formData;
      }, new FormData());
    },
    [ContentType.UrlEncoded]: (input: any) => this.toQueryString(input),
  };

  protected mergeRequestParams(
    params1: RequestParams,
    params2?: RequestParams,
  ): RequestParams {
    return {
      ...this.baseApiParams,
      ...params1,
      ...(params2 || {}),
      headers: {
        ...(this.baseApiParams.headers || {}),
        ...(params1.headers || {}),
        ...((params2 && params2.headers) || {}),
      },
    };
  }

  protected createAbortSignal = (
    cancelToken: CancelToken,
  ): AbortSignal | undefined => {
    if (this.abortControllers.has(cancelToken)) {
      const abortController = this.abortControllers.get(cancelToken);
      if (abortController) {
        return abortController.signal;
      }
      return void 0;
    }

    const abortController = new AbortController();
    this.abortControllers.set(cancelToken, abortController);
    return abortController.signal;
  };

  public abortRequest = (cancelToken: CancelToken) => {
    const abortController = this.abortControllers.get(cancelToken);

    if (abortController) {
      abortController.abort();
      this.abortControllers.delete(cancelToken);
    }
  };

  public request = async <T = any, E = any>({
    body,
    secure,
    path,
    type,
    query,
    format,
    baseUrl,
    cancelToken,
    ...params
  }: FullRequestParams): Promise<HttpResponse<T, E>> => {
    const secureParams =
      ((typeof secure === "boolean" ? secure : this.baseApiParams.secure) &&
        this.securityWorker &&
        (await this.securityWorker(this.securityData))) ||
      {};
    const requestParams = this.mergeRequestParams(params, secureParams);
    const queryString = query && this.toQueryString(query);
    const payloadFormatter = this.contentFormatters[type || ContentType.Json];
    const responseFormat = format || requestParams.format;

    return this.customFetch(
      `${baseUrl || this.baseUrl || ""}${path}${queryString ? `?${queryString}` : ""}`,
      {
        ...requestParams,
        headers: {
          ...(requestParams.headers || {}),
          ...(type && type !== ContentType.FormData
            ? { "Content-Type": type }
            : {}),
        },
        signal:
          (cancelToken
            ? this.createAbortSignal(cancelToken)
            : requestParams.signal) || null,
        body:
          typeof body === "undefined" || body === null
            ? null
            : payloadFormatter(body),
      },
    ).then(async (response) => {
      const r = response as HttpResponse<T, E>;
      r.data = null as unknown as T;
      r.error = null as unknown as E;

      const responseToParse = responseFormat ? response.clone() : response;
      const data = !responseFormat
        ? r
        : await responseToParse[responseFormat]()
            .then((data) => {
              if (r.ok) {
                r.data = data;
              } else {
                r.error = data;
              }
              return r;
            })
            .catch((e) => {
              r.error = e;
              return r;
            });

      if (cancelToken) {
        this.abortControllers.delete(cancelToken);
      }

      if (!response.ok) throw data;
      return data;
    });
  };
}

/**
 * @title User Service API
 * @version 1.0.0
 * @license MIT (https://opensource.org/licenses/MIT)
 * @baseUrl http://localhost:3000
 * @contact User Service maintainers
 *
 * Accounts, login and tokens for an application: create, read and update a
 * user, change a password, list users with paging, log in, log out and check
 * a token.
 *
 * ## Conventions
 * - Every request and response body is JSON (`application/json`). Request
 *   bodies refuse fields they do not list (no silent stripping).
 * - Before validation, string fields other than passwords are trimmed and
 *   Unicode-normalized (NFKC), so `" Jane.Doe@Example.COM "` is accepted and
 *   stored as `jane.doe@example.com`. Passwords are not trimmed; they are
 *   hashed and compared in their NFKC form, and their length counts
 *   characters (code points).
 * - No string field may hold a control character (U+0000 to U+001F,
 *   U+007F to U+009F): `400 Incorrect field`. A body that is not valid
 *   UTF-8 is unreadable: `409 Invalid request body`.
 * - Emails are stored lower-case; emails and user names are unique without
 *   regard to case.
 *
 * ## Errors
 * Every error body is `{"error": "<text>"}` with one of the texts documented
 * on the response, word for word. A `400 Incorrect field` may add a
 * `details` array naming the fields that failed, and a `409` for an email
 * or user name that belongs to another account names that field there.
 * Requests are checked in this order, and the first failing check answers:
 * 1. a body that is not readable JSON: `409 Invalid request body`;
 * 2. authentication (a missing, malformed, expired, tampered or revoked
 *    token): `401`;
 * 3. validation of the path, query and body: `400`;
 * 4. permission: `403 Forbidden`, whether or not the target id exists
 *    (or `403 Email address not verified`, see below);
 * 5. existence (`404 User not found`), then conflicts (`409`, an email or
 *    user name that belongs to another account) and a wrong existing
 *    password (`400`).
 *
 * Anything unexpected answers `500 {"error": "Internal server error"}`,
 * never a stack trace. No operation answers a status it does not document:
 * where an operation documents no `400` (`/protected`, `/logout`, the
 * probes), query parameters it does not read are ignored.
 *
 * ## HTTP
 * Every `401` carries `WWW-Authenticate: Bearer` (with
 * `error="invalid_token"` when a token was sent and refused). `Bearer` may
 * be followed by one or more spaces; two `Authorization` headers are
 * refused (`401`). A method a path does not have answers `405` with
 * `Allow`; `HEAD` works wherever `GET` does.
 *
 * ## Tokens
 * An access token is a JWT signed with ES256 (or HS256 where
 * `JWT_ALGORITHM=HS256`), carrying `kid` in its header and `sub` (the user
 * id), `jti` (its session), `iss`, `aud`, `iat`, `exp`, `auth_time` (when
 * its session's user last proved who they are) and `amr` (how: RFC 8176
 * values, `["pwd"]` or `["pwd", "otp"]`). Send it as
 * `Authorization: Bearer <token>`. It lasts `JWT_TTL_SECONDS` (default 15
 * minutes); the `refresh_token` that came with it gets a new pair from
 * `POST /token/refresh` until the session ends (`SESSION_TTL_SECONDS`,
 * default 14 days).
 *
 * Every token belongs to a server-side session: logging out ends that
 * session at once, on every instance sharing the database and after
 * restarts, and a password change ends all the user's other sessions.
 * Other services can check tokens themselves with the public keys at
 * `/.well-known/jwks.json`; they can't see a session end, so they accept
 * its access token until its `exp`.
 *
 * ## Roles
 * `user`, `moderator` and `admin`. Anyone may register as a `user`; creating
 * a `moderator` or `admin` takes an admin's token. The first admin is created
 * at start-up from the `ADMIN_EMAIL` and `ADMIN_PASSWORD` settings.
 * ## Email verification
 * Registering through the API, and changing an email, sends a link to
 * the address (`VERIFY_EMAIL_URL`); the app's page posts its token to
 * `POST /email/verify`; `GET /account` shows whether it is verified.
 * Accounts made by an operator (the CLI, `ADMIN_EMAIL`) start verified,
 * and a password reset by mail also proves the address. Verification
 * links and email-change notices count against one limit per account
 * (`EMAIL_VERIFICATION_REQUESTS_PER_USER` an hour), so no address can be
 * mailed without end.
 *
 * With `REQUIRE_VERIFIED_EMAIL=true` (default `false`), an account whose
 * email is not verified may only verify it, ask for a new link and log
 * out: every other operation that reads its token answers `403` with
 * `Email address not verified`, after authentication and validation, and
 * its login answers the same `403` (with the right password only) and
 * sends a new link.
 */
export class Api<
  SecurityDataType extends unknown,
> extends HttpClient<SecurityDataType> {
  users = {
    /**
     * @description Registers an account and returns a token for it (a new session). Without a token, only the role `user` may be asked for (it is also the default). Creating a `moderator` or an `admin` needs an admin's token; anyone else gets `403`. A token that is sent must be valid (`401` otherwise), even where none is needed. An email or user name that already belongs to an account, in any case, answers `409`; so do concurrent registrations of the same email: one wins, the others get `409`. Registrations are limited per client address (`REGISTRATIONS_PER_ADDRESS` attempts an hour, default 30), counted whether they create an account or find the email or user name taken: past it, `429`. The place is taken before the password is hashed, so a burst of parallel requests gets no more than the limit through. When too much password-hashing work is already waiting, `503`. A link to verify the email is sent to it (see `POST /email/verify`), unless the address has had its `MAIL_PER_RECIPIENT` messages this hour (default 10, from all accounts together): then the account is made without it, and `POST /email/resend` asks for one later.
     *
     * @tags Users
     * @name CreateUser
     * @summary Create a user
     * @request POST:/users
     * @secure
     */
    createUser: (data: NewUser, params: RequestParams = {}) =>
      this.request<
        RegistrationToken,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | InvalidRequestBodyOrTakenError
        | TooManyRequestsError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/users`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description One page of users, ordered by id. `page` starts at 1 (default 1); `per_page` is 1 to 100 (default 10). A page past the end is an empty list. `total_users` counts all users. Public by default. When the service runs with `USERS_LIST_REQUIRES_AUTH=true`, a valid token is required (`401` otherwise).
     *
     * @tags Users
     * @name ListUsers
     * @summary List users
     * @request GET:/users/pagination
     * @secure
     */
    listUsers: (
      query?: {
        /**
         * The page number, from 1.
         * @format int32
         * @min 1
         * @max 2147483647
         * @default 1
         * @example 1
         */
        page?: number;
        /**
         * Users per page, 1 to 100.
         * @format int32
         * @min 1
         * @max 100
         * @default 10
         * @example 10
         */
        per_page?: number;
      },
      params: RequestParams = {},
    ) =>
      this.request<
        UserPage,
        | WrongPageParametersError
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | InternalServerErrorBody
      >({
        path: `/users/pagination`,
        method: "GET",
        query: query,
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Any authenticated user may read any profile.
     *
     * @tags Users
     * @name GetUser
     * @summary Read a user profile
     * @request GET:/users/{user_id}
     * @secure
     */
    getUser: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        UserProfile,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | UserNotFoundError
        | InternalServerErrorBody
      >({
        path: `/users/${userId}`,
        method: "GET",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Changes any non-empty subset of `email`, `user_name`, `first_name` and `last_name`; fields not sent keep their value. The role can't be changed here. Who may update whom: every user their own profile; a moderator also the profiles of users whose role is `user`, but not their email (an email change is the first step of an account takeover); an admin anyone. Anyone else gets `403`, whether or not the id exists. An admin or moderator naming an id that does not exist gets `404`. A user who changes their own email ends their other sessions; the token used for this request stays valid. Whoever changes it, a new email is unverified until its owner follows the link sent to it, the old address gets a notice, and pending reset and verification links stop working. The link and the notice count against the account's `EMAIL_VERIFICATION_REQUESTS_PER_USER` an hour and each address's `MAIL_PER_RECIPIENT`: past either the change still applies but sends nothing (`POST /email/resend` asks for a link later). A change that answers `409` counts against neither.
     *
     * @tags Users
     * @name UpdateUser
     * @summary Update a user profile
     * @request PUT:/users/update/{user_id}
     * @secure
     */
    updateUser: (
      userId: UserId,
      data: ProfileChanges,
      params: RequestParams = {},
    ) =>
      this.request<
        UpdatedUser,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | ProfileChangeForbiddenError
        | UserNotFoundError
        | InvalidRequestBodyOrTakenError
        | InternalServerErrorBody
      >({
        path: `/users/update/${userId}`,
        method: "PUT",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Only the user themself may change their password, and must send the existing one. On success every other session of the user ends, and no login that checked the old password can open a session any more; the token used for this request stays valid. Wrong existing passwords are limited per account (`PASSWORD_CHANGE_MAX_FAILURES_PER_USER`, default 5, within `LOGIN_FAILURE_WINDOW_SECONDS`): past it, `429` on password changes only (logging in is not affected), so a stolen token can't be used to guess the current password. When too much password-hashing work is already waiting, `503`.
     *
     * @tags Users
     * @name UpdateUserPassword
     * @summary Change a password
     * @request PUT:/users/update_password/{user_id}
     * @secure
     */
    updateUserPassword: (
      userId: UserId,
      data: PasswordChange,
      params: RequestParams = {},
    ) =>
      this.request<
        PasswordUpdatedMessage,
        | PasswordChangeRefusedError
        | UserAuthenticationFailedError
        | NotPermittedError
        | InvalidRequestBodyError
        | TooManyRequestsError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/users/update_password/${userId}`,
        method: "PUT",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),
  };
  login = {
    /**
     * @description Exchanges an email and password for a token. An unknown email and a wrong password get the same answer, in comparable time. Failed logins (`401`) are counted, whether or not an account has the email, within `LOGIN_FAILURE_WINDOW_SECONDS` (default 900) in three limits: - per email and client address together (`LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS`, default 5): the strict limit on guessing one password; - per client address, any email (`LOGIN_MAX_FAILURES_PER_ADDRESS`, default 50): against spraying many accounts; - per email, from all addresses (`LOGIN_MAX_FAILURES_PER_EMAIL`, default 100): against guessing spread over many addresses. It is high on purpose: someone guessing from elsewhere does not lock the owner out of their own address, until guesses from many addresses add up to it. Past any of them the answer is `429` with `Retry-After` until a place frees up, even for the right password. Each attempt takes its place before the password is checked, so a burst of parallel guesses gets no more than the limit checked. A successful login gives its places back and clears the count for its email from its address. A `400` or `429` is not counted. When too much password-hashing work is already waiting, `503`. An account with a second factor gets `202` instead of `200`: no session and no token yet, but an `mfa_token` to send with a code to `POST /login/mfa`.
     *
     * @tags Authentication
     * @name Login
     * @summary Log in
     * @request POST:/login
     */
    login: (data: Credentials, params: RequestParams = {}) =>
      this.request<
        LoginResult,
        | IncorrectFieldError
        | InvalidCredentialsError
        | LoginRefusedError
        | InvalidRequestBodyError
        | TooManyRequestsError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/login`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description The second step of a login whose `POST /login` answered `202`: the `mfa_token` from it and a current code from the authenticator app (`code`), or one of the recovery codes (`recovery_code`). Answers like `POST /login`'s `200`; the session's `amr` is `["pwd", "otp"]`. Each time step's code is accepted once per account, on every instance: a code that signed in (or confirmed the enrolment) is refused for the rest of its 30 seconds, and so are older ones. A recovery code works once. Each `mfa_token` is single-use and checks at most 5 codes, counted before a code is checked, so a burst of parallel guesses gets no more; then it is void. Wrong codes also count per account (`MFA_MAX_FAILURES_PER_USER`, default 10, in `LOGIN_FAILURE_WINDOW_SECONDS`): past it, `429` for that account until a place frees up; its password step and other accounts are not affected. A disabled account, or one whose password changed since the first step, is refused here too.
     *
     * @tags Authentication
     * @name CompleteLogin
     * @summary Complete a login with a second factor
     * @request POST:/login/mfa
     */
    completeLogin: (data: MfaCompletion, params: RequestParams = {}) =>
      this.request<
        LoginResult,
        | IncorrectFieldError
        | MfaLoginRefusedError
        | LoginRefusedError
        | InvalidRequestBodyError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/login/mfa`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),
  };
  logout = {
    /**
     * @description Ends the session of the token sent. From then on that token is refused everywhere. No request body is needed; a body and query parameters are ignored.
     *
     * @tags Authentication
     * @name Logout
     * @summary Log out
     * @request POST:/logout
     * @secure
     */
    logout: (params: RequestParams = {}) =>
      this.request<
        LogoutMessage,
        InvalidOrExpiredTokenError | InternalServerErrorBody
      >({
        path: `/logout`,
        method: "POST",
        secure: true,
        format: "json",
        ...params,
      }),
  };
  protected = {
    /**
     * @description Answers 200 while the token sent is valid and its session open. Query parameters are ignored (a client may add one to defeat a cache).
     *
     * @tags Authentication
     * @name CheckToken
     * @summary Check a token
     * @request GET:/protected
     * @secure
     */
    checkToken: (params: RequestParams = {}) =>
      this.request<
        TokenValidMessage,
        | InvalidOrExpiredTokenError
        | EmailNotVerifiedError
        | InternalServerErrorBody
      >({
        path: `/protected`,
        method: "GET",
        secure: true,
        format: "json",
        ...params,
      }),
  };
  password = {
    /**
     * @description Sends a password-reset link to the email, if an account has it. The answer is the same `202`, at once, whether or not it does: the work happens after the answer, so neither the text nor the timing tells who has an account. The link is `RESET_PASSWORD_URL` with `{token}` replaced by a single-use token of 256 random bits, valid for `RESET_TOKEN_TTL_SECONDS` (default 1800); the token table keeps only its hash, and a newer request voids the older tokens. Requests are limited per email (`PASSWORD_RESET_REQUESTS_PER_EMAIL`, default 3 an hour) and per client address (`PASSWORD_RESET_REQUESTS_PER_ADDRESS`, default 20 an hour), counted before anything else is done: past either, `429`. No link is sent to a disabled account, nor to an address that has had its `MAIL_PER_RECIPIENT` messages this hour (default 10); the answer is the same `202`. A disabled account can't use a link sent before.
     *
     * @tags Account recovery
     * @name RequestPasswordReset
     * @summary Ask for a password reset
     * @request POST:/password/forgot
     */
    requestPasswordReset: (
      data: PasswordResetRequest,
      params: RequestParams = {},
    ) =>
      this.request<
        PasswordResetRequestedMessage,
        | IncorrectFieldError
        | InvalidRequestBodyError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/password/forgot`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Sets a new password with the token from a reset link. The password policy applies (`400 Incorrect field`). The token works once: an unknown, used or expired one answers `400` with `Invalid or expired reset token`, and of two requests with one token at once exactly one succeeds. A link works only while the account still has the address it was mailed to (an email change voids it), and using it proves that address: the email counts as verified. On success every session of the account ends, and no login that checked the old password can open one any more.
     *
     * @tags Account recovery
     * @name ResetPassword
     * @summary Reset a password
     * @request POST:/password/reset
     */
    resetPassword: (data: PasswordReset, params: RequestParams = {}) =>
      this.request<
        PasswordResetMessage,
        | PasswordResetRefusedError
        | InvalidRequestBodyError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/password/reset`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),
  };
  account = {
    /**
     * @description The signed-in user's own account: the profile, whether its email is verified and since when, when the account was created and when its password last changed. `GET /users/{user_id}` keeps its shorter profile.
     *
     * @tags Account
     * @name GetAccount
     * @summary Read your own account
     * @request GET:/account
     * @secure
     */
    getAccount: (params: RequestParams = {}) =>
      this.request<
        Account,
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | InternalServerErrorBody
      >({
        path: `/account`,
        method: "GET",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Deletes the signed-in user's account, after they give its password again. The answer comes only once the account is gone: its row, sessions, pending links and queued mail are deleted; the audit trail keeps the account's id and the kinds of its events, without email, name or address. The email and user name may be registered again. The listing shows the change at once (`total_users`, and later users move up a place). Wrong passwords count against the same per-account limit as a password change's (`PASSWORD_CHANGE_MAX_FAILURES_PER_USER`): past it, `429`. The last admin can't close their account (`409`). Allowed before the email is verified, so an account registered with a mistyped address can be closed and made again.
     *
     * @tags Account
     * @name CloseAccount
     * @summary Close your own account
     * @request POST:/account/delete
     * @secure
     */
    closeAccount: (data: AccountClosure, params: RequestParams = {}) =>
      this.request<
        AccountClosedMessage,
        | AccountClosureRefusedError
        | UserAuthenticationFailedError
        | RemovalConflictError
        | TooManyRequestsError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/account/delete`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Operations that change how an account is signed into need a session that proved its user at most `REAUTH_MAX_AGE_SECONDS` (default 600) ago, else `403 Recent authentication required`. A login counts as proof; so does this, given the password and, when a second factor is active, a current code or a recovery code. It renews the current session only. Wrong passwords and codes count against the same per-account limit as a password change's (`PASSWORD_CHANGE_MAX_FAILURES_PER_USER`): past it, `429`.
     *
     * @tags Second factor
     * @name Reauthenticate
     * @summary Renew recent authentication
     * @request POST:/account/reauthenticate
     * @secure
     */
    reauthenticate: (data: Reauthentication, params: RequestParams = {}) =>
      this.request<
        RecentAuthentication,
        | ReauthenticationRefusedError
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | InvalidRequestBodyError
        | TooManyRequestsError
        | InternalServerErrorBody
        | ServiceBusyError
      >({
        path: `/account/reauthenticate`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description A new TOTP secret for the signed-in user, as a QR code to scan and as text. Nothing is active until `POST /account/mfa/totp/confirm` with a code from the app; starting again replaces a secret not yet confirmed. The secret is kept encrypted (AES-256-GCM). Needs recent authentication. No request body.
     *
     * @tags Second factor
     * @name StartTotpEnrollment
     * @summary Start enrolling an authenticator app
     * @request POST:/account/mfa/totp
     * @secure
     */
    startTotpEnrollment: (params: RequestParams = {}) =>
      this.request<
        TotpEnrollment,
        | UserAuthenticationFailedError
        | AccountForbiddenError
        | SecondFactorStateError
        | InternalServerErrorBody
      >({
        path: `/account/mfa/totp`,
        method: "POST",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Activates the secret from `POST /account/mfa/totp` with a current code from the app, and answers ten recovery codes, shown this once. Every other session of the account ends; this one counts as signed in with both factors. From now on a login needs a code too. Needs recent authentication.
     *
     * @tags Second factor
     * @name ConfirmTotpEnrollment
     * @summary Confirm the authenticator app and turn the second factor on
     * @request POST:/account/mfa/totp/confirm
     * @secure
     */
    confirmTotpEnrollment: (
      data: TotpConfirmation,
      params: RequestParams = {},
    ) =>
      this.request<
        RecoveryCodes,
        | InvalidCodeError
        | UserAuthenticationFailedError
        | AccountForbiddenError
        | SecondFactorStateError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/account/mfa/totp/confirm`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Removes the authenticator app and the recovery codes, given a current code or a recovery code. Logins need only the password again. Needs recent authentication.
     *
     * @tags Second factor
     * @name RemoveTotp
     * @summary Turn the second factor off
     * @request POST:/account/mfa/totp/remove
     * @secure
     */
    removeTotp: (data: SecondFactorProof, params: RequestParams = {}) =>
      this.request<
        SecondFactorRemovedMessage,
        | InvalidCodeError
        | UserAuthenticationFailedError
        | AccountForbiddenError
        | SecondFactorStateError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/account/mfa/totp/remove`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Ten new recovery codes, shown this once; the old ones stop working. Given a current code or a recovery code. Needs recent authentication.
     *
     * @tags Second factor
     * @name RegenerateRecoveryCodes
     * @summary Replace the recovery codes
     * @request POST:/account/mfa/recovery-codes
     * @secure
     */
    regenerateRecoveryCodes: (
      data: SecondFactorProof,
      params: RequestParams = {},
    ) =>
      this.request<
        RecoveryCodes,
        | InvalidCodeError
        | UserAuthenticationFailedError
        | AccountForbiddenError
        | SecondFactorStateError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/account/mfa/recovery-codes`,
        method: "POST",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),
  };
  sessions = {
    /**
     * @description The signed-in user's open sessions, newest first (at most 100): when each started and expires, the client address and user agent it started from (`null` for sessions from before these were recorded), and which one belongs to the token sent.
     *
     * @tags Sessions
     * @name ListSessions
     * @summary List your sessions
     * @request GET:/sessions
     * @secure
     */
    listSessions: (params: RequestParams = {}) =>
      this.request<
        SessionList,
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | InternalServerErrorBody
      >({
        path: `/sessions`,
        method: "GET",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Ends every session of the signed-in user except the one of the token sent; their tokens are refused from now on, everywhere.
     *
     * @tags Sessions
     * @name EndOtherSessions
     * @summary End your other sessions
     * @request DELETE:/sessions
     * @secure
     */
    endOtherSessions: (params: RequestParams = {}) =>
      this.request<
        SessionsEnded,
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | InternalServerErrorBody
      >({
        path: `/sessions`,
        method: "DELETE",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Ends one session of the signed-in user (the current one too, which is a logout). A session of another user answers `404`, as an unknown one does: ids reveal nothing.
     *
     * @tags Sessions
     * @name EndSession
     * @summary End one of your sessions
     * @request DELETE:/sessions/{session_id}
     * @secure
     */
    endSession: (sessionId: SessionId, params: RequestParams = {}) =>
      this.request<
        SessionEndedMessage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | EmailNotVerifiedError
        | SessionNotFoundError
        | InternalServerErrorBody
      >({
        path: `/sessions/${sessionId}`,
        method: "DELETE",
        secure: true,
        format: "json",
        ...params,
      }),
  };
  admin = {
    /**
     * @description Users whose email or user name is `q` (`match=exact`) or starts with it (`match=prefix`, the default), without regard to case, ordered by id and paged like the listing: `total_users` counts every match, and a page past the end is an empty list. Unlike the public listing, each user shows their role, whether their email is verified and whether they are disabled.
     *
     * @tags Administration
     * @name SearchUsers
     * @summary Find users
     * @request GET:/admin/users
     * @secure
     */
    searchUsers: (
      query: {
        /**
         * An email or user name, or the start of one (trimmed; case does not matter).
         * @minLength 1
         * @maxLength 254
         * @example "jane"
         */
        q: string;
        /**
         * `prefix` (the default): starts with `q`; `exact`: is `q`.
         * @default "prefix"
         * @example "prefix"
         */
        match?: "prefix" | "exact";
        /**
         * The page number, from 1.
         * @format int32
         * @min 1
         * @max 2147483647
         * @default 1
         * @example 1
         */
        page?: number;
        /**
         * Items per page, 1 to 100.
         * @format int32
         * @min 1
         * @max 100
         * @default 10
         * @example 10
         */
        per_page?: number;
      },
      params: RequestParams = {},
    ) =>
      this.request<
        UserSearchPage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | InternalServerErrorBody
      >({
        path: `/admin/users`,
        method: "GET",
        query: query,
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Security events, newest first, optionally only those of one account (`user_id`: the account acted on) and of one kind (`type`), paged. `actor_id` is the admin or operator-made account that acted, when not the account's owner. Events of a deleted account keep its id and their kinds, without addresses. Events are kept for `AUDIT_RETENTION_DAYS` (365 by default), then pruned.
     *
     * @tags Administration
     * @name ListAuditEvents
     * @summary Read the audit trail
     * @request GET:/admin/audit
     * @secure
     */
    listAuditEvents: (
      query?: {
        /**
         * Only the events of this account.
         * @example 1
         */
        user_id?: UserId;
        /**
         * Only events of this kind.
         * @example "login_failure"
         */
        type?: SecurityEventType;
        /**
         * The page number, from 1.
         * @format int32
         * @min 1
         * @max 2147483647
         * @default 1
         * @example 1
         */
        page?: number;
        /**
         * Items per page, 1 to 100.
         * @format int32
         * @min 1
         * @max 100
         * @default 10
         * @example 10
         */
        per_page?: number;
      },
      params: RequestParams = {},
    ) =>
      this.request<
        AuditPage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | InternalServerErrorBody
      >({
        path: `/admin/audit`,
        method: "GET",
        query: query,
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Deletes the account as closing it does (see `POST /account/delete`): erasure, answered once it is done. The last admin can't be deleted.
     *
     * @tags Administration
     * @name DeleteUser
     * @summary Delete an account
     * @request DELETE:/admin/users/{user_id}
     * @secure
     */
    deleteUser: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        AccountClosedMessage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | LastAdminError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}`,
        method: "DELETE",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Sets the role. It applies from the user's very next request, with the tokens they already hold. The last admin can't be demoted (`409`); two admins demoting each other at once leave one admin.
     *
     * @tags Administration
     * @name SetUserRole
     * @summary Change a user's role
     * @request PUT:/admin/users/{user_id}/role
     * @secure
     */
    setUserRole: (
      userId: UserId,
      data: RoleChange,
      params: RequestParams = {},
    ) =>
      this.request<
        UserRole,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | RemovalConflictError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}/role`,
        method: "PUT",
        body: data,
        secure: true,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Every session of the account ends at once, and its login answers `403 Account disabled` (with the right password; a wrong one stays `401`) until it is enabled again. The credential generation moves on, so no login already checking the password can open a session. Disabling a disabled account changes nothing. The last admin can't be disabled.
     *
     * @tags Administration
     * @name DisableUser
     * @summary Disable an account
     * @request POST:/admin/users/{user_id}/disable
     * @secure
     */
    disableUser: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        AccountStateMessage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | LastAdminError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}/disable`,
        method: "POST",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Lets a disabled account log in again. Enabling an enabled account changes nothing.
     *
     * @tags Administration
     * @name EnableUser
     * @summary Enable an account
     * @request POST:/admin/users/{user_id}/enable
     * @secure
     */
    enableUser: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        AccountStateMessage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}/enable`,
        method: "POST",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description Ends every session of the account; its tokens are refused from now on.
     *
     * @tags Administration
     * @name EndUserSessions
     * @summary Sign a user out everywhere
     * @request DELETE:/admin/users/{user_id}/sessions
     * @secure
     */
    endUserSessions: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        SessionsEnded,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}/sessions`,
        method: "DELETE",
        secure: true,
        format: "json",
        ...params,
      }),

    /**
     * @description For a user who lost both the authenticator app and the recovery codes: removes the app, the recovery codes and any login waiting for a code, and ends every session, so the account signs in with its password alone until its owner enrols again. The owner is told by mail. The audit trail records it with the acting admin. Answers the same for an account without a second factor. Check who is asking before you do this: it is how an attacker with the password would ask.
     *
     * @tags Administration
     * @name ResetUserMfa
     * @summary Reset a user's second factor
     * @request DELETE:/admin/users/{user_id}/mfa
     * @secure
     */
    resetUserMfa: (userId: UserId, params: RequestParams = {}) =>
      this.request<
        SecondFactorResetMessage,
        | IncorrectFieldError
        | UserAuthenticationFailedError
        | NotPermittedError
        | UserNotFoundError
        | InternalServerErrorBody
      >({
        path: `/admin/users/${userId}/mfa`,
        method: "DELETE",
        secure: true,
        format: "json",
        ...params,
      }),
  };
  email = {
    /**
     * @description Marks the account's email verified with the token from a verification link. No bearer token is needed: the link may be opened on another device. The link is `VERIFY_EMAIL_URL` with `{token}` replaced by a single-use token of 256 random bits, valid for `VERIFY_EMAIL_TOKEN_TTL_SECONDS` (default 86400); the token table keeps only its hash, and a newer link voids the older ones. It verifies only the address it was sent to: after an email change it no longer works. An unknown, used or expired token answers `400` with `Invalid or expired verification token`; of two requests with one token at once, exactly one succeeds.
     *
     * @tags Account
     * @name VerifyEmail
     * @summary Verify an email address
     * @request POST:/email/verify
     */
    verifyEmail: (data: EmailVerification, params: RequestParams = {}) =>
      this.request<
        EmailVerifiedMessage,
        | EmailVerificationRefusedError
        | InvalidRequestBodyError
        | InternalServerErrorBody
      >({
        path: `/email/verify`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description The notice an email change sends to the old address carries a link (`REVERT_EMAIL_URL` with `{token}` replaced by a single-use token of 256 random bits, valid for `EMAIL_REVERT_TOKEN_TTL_SECONDS`, default 7 days; only its hash is kept). Posting its token here puts the old address back, verified, and ends every session of the account; pending reset, verification and revert links stop working. For the owner whose account was taken over with a stolen token: the new address's holder can no longer reset the password. Then reset it from the old address. A later email change does not void an earlier one's link. An unknown, used or expired token answers `400 Invalid or expired revert token`; of two requests with one token at once, one succeeds.
     *
     * @tags Account
     * @name RevertEmailChange
     * @summary Undo an email change from the old address
     * @request POST:/email/revert
     */
    revertEmailChange: (data: EmailVerification, params: RequestParams = {}) =>
      this.request<
        EmailRestoredMessage,
        | EmailRevertRefusedError
        | InvalidRequestBodyOrTakenError
        | InternalServerErrorBody
      >({
        path: `/email/revert`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),

    /**
     * @description Sends a new verification link to the signed-in user's email, voiding the older ones. Allowed before the email is verified, also with `REQUIRE_VERIFIED_EMAIL=true`. No request body is needed. Limited per account (`EMAIL_VERIFICATION_REQUESTS_PER_USER`, default 3 an hour, shared with the links a refused login or an email change sends) and per address (`MAIL_PER_RECIPIENT`, default 10 an hour, all the mail sent to it from any account): past either, `429`. An email that is already verified answers `409`.
     *
     * @tags Account
     * @name ResendVerificationEmail
     * @summary Send a new verification link
     * @request POST:/email/resend
     * @secure
     */
    resendVerificationEmail: (params: RequestParams = {}) =>
      this.request<
        VerificationSentMessage,
        | UserAuthenticationFailedError
        | EmailAlreadyVerifiedError
        | TooManyRequestsError
        | InternalServerErrorBody
      >({
        path: `/email/resend`,
        method: "POST",
        secure: true,
        format: "json",
        ...params,
      }),
  };
  token = {
    /**
     * @description Exchanges a refresh token for a new access token and a new refresh token, for the same session. Each refresh token works once: the answer's `refresh_token` replaces it. The session's end (`SESSION_TTL_SECONDS` after login) does not move; logging out, a password change or reset, disabling or deleting the account end it, and its refresh tokens with it. Presenting a refresh token that was already exchanged means two parties hold it, so the session is ended at once (`401`) and every token of it refused: the thief's and the owner's alike. One exception keeps honest clients signed in: the same client (same address and `User-Agent`) sending it again within `REFRESH_TOKEN_REUSE_GRACE_SECONDS` (default 10) of its exchange, as two requests racing from one app do, gets `409 Refresh token already used` and the session survives; that client should use the pair the winning request returned. Of two refreshes racing with one token, exactly one gets the new pair.
     *
     * @tags Tokens
     * @name RefreshToken
     * @summary Refresh an access token
     * @request POST:/token/refresh
     */
    refreshToken: (data: TokenRefresh, params: RequestParams = {}) =>
      this.request<
        LoginResult,
        | IncorrectFieldError
        | RefreshRefusedError
        | RefreshConflictError
        | InternalServerErrorBody
      >({
        path: `/token/refresh`,
        method: "POST",
        body: data,
        type: ContentType.Json,
        format: "json",
        ...params,
      }),
  };
  wellKnown = {
    /**
     * @description The JSON Web Key Set (RFC 7517) of the keys whose tokens are valid: a service that trusts this one checks an access token's signature with the key named by its `kid`, then `iss`, `aud` and `exp`. A new key is listed here for `JWKS_MAX_AGE_SECONDS` before any token is signed with it, and a replaced key stays until the last token it signed has expired, so a verifier that caches this document no longer than `Cache-Control` says never meets a key it doesn't know. A key retired in an emergency leaves at once. Empty where `JWT_ALGORITHM=HS256`: a shared secret has no public half. Served from memory (each instance re-reads the keys every second), so it answers even while the database is unreachable.
     *
     * @tags Tokens
     * @name GetSigningKeys
     * @summary Public keys for verifying tokens
     * @request GET:/.well-known/jwks.json
     */
    getSigningKeys: (params: RequestParams = {}) =>
      this.request<JsonWebKeySet, any>({
        path: `/.well-known/jwks.json`,
        method: "GET",
        format: "json",
        ...params,
      }),
  };
  healthz = {
    /**
     * @description Answers while the process can serve HTTP; touches nothing else. For a liveness probe: restart the instance when this fails. Query parameters are ignored, so a cache-busting probe (`/healthz?t=1`) works.
     *
     * @tags Operations
     * @name CheckLiveness
     * @summary Check that the process is alive
     * @request GET:/healthz
     */
    checkLiveness: (params: RequestParams = {}) =>
      this.request<Liveness, any>({
        path: `/healthz`,
        method: "GET",
        format: "json",
        ...params,
      }),
  };
  readyz = {
    /**
     * @description Answers `200` when the database is reachable and every migration is applied, `503` otherwise (and while the instance shuts down). For a readiness probe: send traffic only while this is `200`. Read-only and bounded to 2 seconds. Query parameters are ignored.
     *
     * @tags Operations
     * @name CheckReadiness
     * @summary Check that the service is ready
     * @request GET:/readyz
     */
    checkReadiness: (params: RequestParams = {}) =>
      this.request<Ready, NotReady>({
        path: `/readyz`,
        method: "GET",
        format: "json",
        ...params,
      }),
  };
}
