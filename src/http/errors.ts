// The one place that turns a failure into the contract's status and body.
import type { ErrorRequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';
import type { Logger } from 'pino';
import { DomainError, Overloaded, RateLimited, type DomainErrorKind, type FieldProblem } from '../domain/errors.js';
import type { components } from '../../generated/openapi.js';
import type { OperationId } from './contract.js';

/** No token, or one that is malformed, expired, tampered with or revoked. */
export class AuthenticationFailed extends Error {
  constructor() {
    super('authentication failed');
    this.name = 'AuthenticationFailed';
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
type ErrorSchemaName = Exclude<Extract<keyof Schemas, `${string}Error` | `${string}ErrorBody`>, 'Error'>;
/** Every error text the spec documents; the compiler checks MESSAGES against it. */
type DocumentedErrorText = NonNullable<Schemas[ErrorSchemaName]['error']>;

export const MESSAGES = {
  incorrectField: 'Incorrect field',
  invalidRequestBody: 'Invalid request body',
  userAuthenticationFailed: 'Unauthorized: User authentication failed',
  invalidOrExpiredToken: 'Invalid or expired token',
  forbidden: 'Forbidden',
  userNotFound: 'User not found',
  invalidCredentials: 'Invalid credentials',
  oldPasswordIncorrect: 'Invalid request: Old password is incorrect',
  wrongPageParameters: 'wrong parameters page, per_page',
  tooManyRequests: 'Too many requests',
  serviceBusy: 'Service busy, try again later',
  internal: 'Internal server error',
} as const satisfies Record<string, DocumentedErrorText>;

// For paths and methods the spec does not have, so no operation documents them.
const UNDOCUMENTED = { notFound: 'Not found', methodNotAllowed: 'Method not allowed' } as const;

const DOMAIN_ERRORS: Record<DomainErrorKind, ContractError> = {
  forbidden: { status: 403, body: { error: MESSAGES.forbidden } },
  user_not_found: { status: 404, body: { error: MESSAGES.userNotFound } },
  conflict: { status: 409, body: { error: MESSAGES.invalidRequestBody } },
  invalid_credentials: { status: 401, body: { error: MESSAGES.invalidCredentials } },
  wrong_existing_password: { status: 400, body: { error: MESSAGES.oldPasswordIncorrect } },
  password_refused: { status: 400, body: { error: MESSAGES.incorrectField } },
};

// The endpoint document words the 401 on /logout and /protected differently.
const TOKEN_CHECK_OPERATIONS: ReadonlySet<OperationId> = new Set(['logout', 'checkToken']);
const MAX_DETAILS = 20;

export function toContractError(error: unknown, operationId: OperationId | undefined): ContractError | undefined {
  if (error instanceof DomainError) {
    const mapped = DOMAIN_ERRORS[error.kind];
    return error.problem ? { ...mapped, body: { ...mapped.body, details: [error.problem] } } : mapped;
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
    const message =
      operationId && TOKEN_CHECK_OPERATIONS.has(operationId)
        ? MESSAGES.invalidOrExpiredToken
        : MESSAGES.userAuthenticationFailed;
    return { status: 401, body: { error: message } };
  }
  if (error instanceof InvalidInput) {
    const details = [{ field: error.field, message: error.problem }];
    return { status: 400, body: { error: badRequestMessage(operationId), details } };
  }
  if (error instanceof URIError) {
    // A malformed percent-escape in the URL, found while matching the path.
    return { status: 400, body: { error: badRequestMessage(operationId) } };
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
    const details = error.errors.slice(0, MAX_DETAILS).map(({ path, message }) => ({
      field: path.replace(/^\//, '').replaceAll('/', '.'),
      message,
    }));
    return { status: 400, body: { error: badRequestMessage(operationId), details } };
  }
  if (error instanceof validatorErrors.NotFound) return { status: 404, body: { error: UNDOCUMENTED.notFound } };
  if (error instanceof validatorErrors.MethodNotAllowed) {
    return { status: 405, body: { error: UNDOCUMENTED.methodNotAllowed } };
  }
  return undefined;
}

/** The listing words its 400 after its only inputs, the paging parameters. */
function badRequestMessage(operationId: OperationId | undefined) {
  return operationId === 'listUsers' ? MESSAGES.wrongPageParameters : MESSAGES.incorrectField;
}

function isBodyParserError(error: unknown): boolean {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const mapped = toContractError(error, req.operation?.id);
    if (mapped) {
      if (mapped.headers) res.set(mapped.headers);
      res.status(mapped.status).json(mapped.body);
      return;
    }
    logger.error({ reqId: req.requestId, failure: describeSafely(error), operation: req.operation?.id }, 'unexpected error');
    res.status(500).json({ error: MESSAGES.internal });
  };
}

/**
 * What may be logged of an unexpected error. Knex prefixes driver errors with
 * the SQL and its values inlined (password hashes, session ids), so only the
 * driver's own message after the last " - " is kept, on one line.
 */
export function describeSafely(error: unknown): { name: string; code?: string; message: string } {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const text = String(message ?? '');
  const driverMessage = text.includes(' - ') ? text.slice(text.lastIndexOf(' - ') + 3) : text;
  return {
    name: String(name ?? 'Error'),
    ...(typeof code === 'string' ? { code } : {}),
    message: (driverMessage.split('\n')[0] ?? '').slice(0, 200),
  };
}
