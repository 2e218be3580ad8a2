// The one place that turns a failure into the contract's status and body.
import type { ErrorRequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';
import type { Logger } from 'pino';
import { DomainError, Overloaded, RateLimited, type DomainErrorKind, type FieldProblem } from '../domain/errors.js';
import type { components } from '../../generated/openapi.js';
import { describeSafely } from '../logger.js';
import type { Operation } from './operations.js';

/** No token, or one that is malformed, expired, tampered with or revoked. */
export class AuthenticationFailed extends Error {
  readonly tokenSent: boolean;
  constructor({ tokenSent }: { tokenSent: boolean }) {
    super('authentication failed');
    this.name = 'AuthenticationFailed';
    this.tokenSent = tokenSent;
  }
}

/** Input the validator would let through but the service refuses (see middleware/body.ts). */
export class InvalidInput extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field} ${problem}`);
    this.name = 'InvalidInput';
  }
}

/** A body that can't be read as JSON: not sent as application/json, or not UTF-8 text. */
export class UnreadableBody extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadableBody';
  }
}

export interface ContractError {
  status: number;
  body: { error: string; details?: FieldProblem[] };
  headers?: Record<string, string>;
}

type Schemas = components['schemas'];
type ErrorSchemaName = Exclude<Extract<keyof Schemas, `${string}Error` | `${string}ErrorBody`>, 'ErrorBody'>;
/** Every error text the spec documents; the compiler checks MESSAGES against it. */
type DocumentedErrorText = NonNullable<Schemas[ErrorSchemaName]['error']>;

export const MESSAGES = {
  incorrectField: 'Incorrect field',
  invalidRequestBody: 'Invalid request body',
  userAuthenticationFailed: 'Unauthorized: User authentication failed',
  forbidden: 'Forbidden',
  userNotFound: 'User not found',
  invalidCredentials: 'Invalid credentials',
  oldPasswordIncorrect: 'Invalid request: Old password is incorrect',
  tooManyRequests: 'Too many requests',
  serviceBusy: 'Service busy, try again later',
  invalidResetToken: 'Invalid or expired reset token',
  invalidVerificationToken: 'Invalid or expired verification token',
  emailAlreadyVerified: 'Email address is already verified',
  emailNotVerified: 'Email address not verified',
  sessionNotFound: 'Session not found',
  passwordIncorrect: 'Invalid request: Password is incorrect',
  lastAdmin: 'The last admin cannot be removed',
  accountDisabled: 'Account disabled',
  invalidRefreshToken: 'Invalid or expired refresh token',
  refreshTokenAlreadyUsed: 'Refresh token already used',
  invalidMfaToken: 'Invalid or expired MFA token',
  invalidCode: 'Invalid code',
  secondFactorActive: 'Second factor already active',
  noEnrollment: 'No second factor enrollment in progress',
  noSecondFactor: 'No second factor active',
  recentAuthenticationRequired: 'Recent authentication required',
  secondFactorRequired: 'Second factor required',
  invalidRevertToken: 'Invalid or expired revert token',
  internal: 'Internal server error',
} as const satisfies Record<string, DocumentedErrorText>;

// For paths and methods the spec does not have, so no operation documents them.
const UNDOCUMENTED = { notFound: 'Not found', methodNotAllowed: 'Method not allowed' } as const;

/** The texts for a request that matched no operation (or one that documents no 400 or 401). */
export const FALLBACK_TEXTS: Operation['texts'] = {
  invalidInput: MESSAGES.incorrectField,
  authenticationFailed: MESSAGES.userAuthenticationFailed,
};

// session_ended is answered as the refused token it has become (toContractError).
const DOMAIN_ERRORS: Record<Exclude<DomainErrorKind, 'session_ended'>, ContractError> = {
  forbidden: { status: 403, body: { error: MESSAGES.forbidden } },
  user_not_found: { status: 404, body: { error: MESSAGES.userNotFound } },
  conflict: { status: 409, body: { error: MESSAGES.invalidRequestBody } },
  invalid_credentials: { status: 401, body: { error: MESSAGES.invalidCredentials } },
  wrong_existing_password: { status: 400, body: { error: MESSAGES.oldPasswordIncorrect } },
  password_refused: { status: 400, body: { error: MESSAGES.incorrectField } },
  email_refused: { status: 400, body: { error: MESSAGES.incorrectField } },
  invalid_reset_token: { status: 400, body: { error: MESSAGES.invalidResetToken } },
  invalid_verification_token: { status: 400, body: { error: MESSAGES.invalidVerificationToken } },
  email_already_verified: { status: 409, body: { error: MESSAGES.emailAlreadyVerified } },
  email_not_verified: { status: 403, body: { error: MESSAGES.emailNotVerified } },
  session_not_found: { status: 404, body: { error: MESSAGES.sessionNotFound } },
  wrong_password: { status: 400, body: { error: MESSAGES.passwordIncorrect } },
  last_admin: { status: 409, body: { error: MESSAGES.lastAdmin } },
  account_disabled: { status: 403, body: { error: MESSAGES.accountDisabled } },
  invalid_refresh_token: { status: 401, body: { error: MESSAGES.invalidRefreshToken } },
  refresh_token_already_used: { status: 409, body: { error: MESSAGES.refreshTokenAlreadyUsed } },
  invalid_mfa_token: { status: 401, body: { error: MESSAGES.invalidMfaToken } },
  wrong_second_factor: { status: 401, body: { error: MESSAGES.invalidCode } },
  wrong_code: { status: 400, body: { error: MESSAGES.invalidCode } },
  second_factor_active: { status: 409, body: { error: MESSAGES.secondFactorActive } },
  no_enrollment: { status: 409, body: { error: MESSAGES.noEnrollment } },
  no_second_factor: { status: 409, body: { error: MESSAGES.noSecondFactor } },
  reauthentication_required: { status: 403, body: { error: MESSAGES.recentAuthenticationRequired } },
  second_factor_required: { status: 403, body: { error: MESSAGES.secondFactorRequired } },
  invalid_revert_token: { status: 400, body: { error: MESSAGES.invalidRevertToken } },
};

const MAX_DETAILS = 20;
// The spec's FieldProblem: a field name of these characters, at most 200, and a message of at most 500.
const FIELD_NAME_UNSAFE = /[^A-Za-z0-9_.$-]/g;

/** A problem as the spec's FieldProblem allows it, whatever field name the client sent. */
function fieldProblem(field: string, message: string): FieldProblem {
  return { field: field.replace(FIELD_NAME_UNSAFE, '_').slice(0, 200) || 'body', message: message.slice(0, 500) };
}

// RFC 6750 §3: every 401 carries a Bearer challenge; where a token was sent
// and refused, it says so.
const BEARER_CHALLENGE = { 'WWW-Authenticate': 'Bearer' };
const INVALID_TOKEN_CHALLENGE = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };

/** The contract's answer to a failure, in the words of the operation it happened in. */
export function toContractError(error: unknown, operation: Operation | undefined): ContractError | undefined {
  const texts = operation?.texts ?? FALLBACK_TEXTS;
  if (error instanceof DomainError) {
    if (error.kind === 'session_ended')
      return toContractError(new AuthenticationFailed({ tokenSent: true }), operation);
    const mapped = DOMAIN_ERRORS[error.kind];
    const details = error.problem && [fieldProblem(`body.${error.problem.field}`, error.problem.message)];
    return {
      ...mapped,
      body: details ? { ...mapped.body, details } : mapped.body,
      ...(mapped.status === 401 ? { headers: BEARER_CHALLENGE } : {}),
    };
  }
  if (error instanceof RateLimited) {
    return {
      status: 429,
      body: { error: MESSAGES.tooManyRequests },
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof Overloaded) {
    return {
      status: 503,
      body: { error: MESSAGES.serviceBusy },
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof AuthenticationFailed) {
    return {
      status: 401,
      body: { error: texts.authenticationFailed },
      headers: error.tokenSent ? INVALID_TOKEN_CHALLENGE : BEARER_CHALLENGE,
    };
  }
  if (error instanceof InvalidInput) {
    return { status: 400, body: { error: texts.invalidInput, details: [fieldProblem(error.field, error.problem)] } };
  }
  if (error instanceof URIError) {
    // A malformed percent-escape in the URL, found while matching the path.
    return { status: 400, body: { error: texts.invalidInput } };
  }
  if (error instanceof UnreadableBody) return { status: 409, body: { error: MESSAGES.invalidRequestBody } };
  if (isBodyParserError(error)) {
    // Unparseable JSON, a wrong charset, or a body over the size limit.
    return { status: 409, body: { error: MESSAGES.invalidRequestBody } };
  }
  if (error instanceof validatorErrors.UnsupportedMediaType) {
    return { status: 409, body: { error: MESSAGES.invalidRequestBody } };
  }
  if (error instanceof validatorErrors.BadRequest) {
    const details = error.errors
      .slice(0, MAX_DETAILS)
      .map(({ path, message }) => fieldProblem(path.replace(/^\//, '').replaceAll('/', '.'), message));
    return { status: 400, body: { error: texts.invalidInput, details } };
  }
  if (error instanceof validatorErrors.NotFound) return { status: 404, body: { error: UNDOCUMENTED.notFound } };
  if (error instanceof validatorErrors.MethodNotAllowed) {
    return { status: 405, body: { error: UNDOCUMENTED.methodNotAllowed } };
  }
  return undefined;
}

function isBodyParserError(error: unknown): boolean {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Sends the contract's answer to a failure. With `checkAnswers` (tests and
 * development), an answer its operation does not document — a status it
 * does not list, or a body outside that status's schema — is logged and
 * becomes a 500, as a stray handler reply does under response validation.
 */
export function errorHandler(logger: Logger, checkAnswers?: ReplyCheck): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const mapped = toContractError(error, req.operation);
    const problem = mapped && req.operation && checkAnswers?.(req.operation, mapped.status, mapped.body);
    if (mapped && !problem) {
      if (mapped.headers) res.set(mapped.headers);
      res.status(mapped.status).json(mapped.body);
      return;
    }
    const failure = problem ? { name: 'UndocumentedAnswer', message: problem } : describeSafely(error);
    logger.error({ reqId: req.requestId, failure, operation: req.operation?.id }, 'unexpected error');
    res.status(500).json({ error: MESSAGES.internal });
  };
}

/** Why an answer is not one the operation documents, or undefined when it is. */
export type ReplyCheck = (operation: Operation, status: number, body: unknown) => string | undefined;
