// The spec's operations as the HTTP layer uses them, read once when the app is
// built: how a request path matches, and each operation's policy — whether it
// reads a token, which texts its 400 and 401 answers use, which statuses it
// may answer at all. Generic middleware reads this table; none of it names an
// operation.
import { match, type MatchFunction } from 'path-to-regexp';
import {
  errorTextsOf,
  resolveRef,
  type OperationId,
  type SecurityRequirement,
  type SpecDocument,
  type SpecNode,
  type SpecOperation,
} from '../contract/spec.js';
import { ROLES, type Role } from '../domain/model.js';

/** A path or query parameter whose schema is an integer. */
export interface IntegerParameter {
  in: 'path' | 'query';
  name: string;
}

/** none: no token is read; optional: a token may be sent and must then be valid; required: one must be. */
export type TokenRequirement = 'none' | 'optional' | 'required';

export interface Operation {
  id: OperationId;
  method: string; // upper case
  path: string; // as in the spec, e.g. /users/{user_id}
  tokenRequirement: TokenRequirement;
  /** Whether the operation reads a JSON body; no other request's body is parsed. */
  hasRequestBody: boolean;
  integerParameters: IntegerParameter[];
  /** The statuses the spec documents; no other may be answered. */
  statuses: ReadonlySet<number>;
  /** The texts of its invalid-input (400) and failed-authentication (401) answers. */
  texts: { invalidInput: string; authenticationFailed: string };
  /**
   * Whether an account whose email is not verified may call it when
   * REQUIRE_VERIFIED_EMAIL is on (`x-allowed-before-email-verification`).
   */
  allowedBeforeEmailVerification: boolean;
  /**
   * Whether the caller's session must have proven its user recently
   * (`x-requires-recent-authentication`), checked after validation.
   */
  requiresRecentAuthentication: boolean;
  /**
   * Whether an account that must use a second factor (MFA_REQUIRED_ROLES) may
   * call it having signed in without one (`x-allowed-without-second-factor`).
   */
  allowedWithoutSecondFactor: boolean;
  /** The role a caller must have (`x-required-role`), checked after validation; undefined: none. */
  requiredRole: Role | undefined;
  /**
   * The path parameter naming a user whose profile is read in the same
   * statement as the token's session (`x-profile-with-session`): one round
   * trip for the operation instead of two.
   */
  profileWithSession: string | undefined;
  /** The name of a metric counting this operation's outcomes (`x-outcome-metric`). */
  outcomeMetric: string | undefined;
  /** Matches a request path; parameter values come back still percent-encoded. */
  match: MatchFunction<Record<string, string>>;
}

export interface OperationSettings {
  /**
   * Settings that are on. An operation whose token is optional becomes
   * token-required when the setting its `x-token-required-when` names is on.
   */
  enabled: ReadonlySet<string>;
  /** The texts used where an operation documents no 400 or 401. */
  fallbackTexts: Operation['texts'];
}

export function operationsOf(spec: SpecDocument, settings: OperationSettings): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    const expressPath = expressPathOf(path);
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        id: operation.operationId,
        method: method.toUpperCase(),
        path,
        tokenRequirement: tokenRequirementOf(spec, operation, settings.enabled),
        hasRequestBody: operation.requestBody !== undefined,
        integerParameters: integerParametersOf(spec, operation),
        statuses: new Set(Object.keys(operation.responses).map(Number)),
        texts: {
          // The first text of a documented 400 is the one for invalid input
          // (a password change's 400 also documents a wrong existing password).
          invalidInput: errorTextsOf(spec, operation.responses['400'])[0] ?? settings.fallbackTexts.invalidInput,
          authenticationFailed:
            errorTextsOf(spec, operation.responses['401'])[0] ?? settings.fallbackTexts.authenticationFailed,
        },
        allowedBeforeEmailVerification: operation['x-allowed-before-email-verification'] === true,
        requiresRecentAuthentication: operation['x-requires-recent-authentication'] === true,
        allowedWithoutSecondFactor: operation['x-allowed-without-second-factor'] === true,
        requiredRole: requiredRoleOf(operation),
        profileWithSession:
          typeof operation['x-profile-with-session'] === 'string' ? operation['x-profile-with-session'] : undefined,
        outcomeMetric: typeof operation['x-outcome-metric'] === 'string' ? operation['x-outcome-metric'] : undefined,
        match: match(expressPath, { decode: (value) => value }),
      });
    }
  }
  // A fixed path wins over a template that would also match it
  // (/users/pagination before /users/{user_id}), as OpenAPI says.
  return operations.sort((a, b) => templateCount(a) - templateCount(b));
}

/** A spec path as Express writes it: /users/{user_id} is /users/:user_id. */
export function expressPathOf(path: string): string {
  return path.replace(/{(\w+)}/g, ':$1');
}

function requiredRoleOf(operation: SpecOperation): Role | undefined {
  const role = operation['x-required-role'];
  if (role === undefined) return undefined;
  if (typeof role !== 'string' || !ROLES.includes(role as Role)) {
    throw new Error(`${operation.operationId}: x-required-role must be one of ${ROLES.join(', ')}`);
  }
  return role as Role;
}

function integerParametersOf(spec: SpecDocument, operation: SpecOperation): IntegerParameter[] {
  return (operation.parameters ?? [])
    .map((parameter) => resolveRef(spec, parameter))
    .filter(
      (parameter) =>
        (parameter.in === 'path' || parameter.in === 'query') &&
        resolveRef(spec, parameter.schema as SpecNode).type === 'integer',
    )
    .map((parameter) => ({ in: parameter.in as IntegerParameter['in'], name: String(parameter.name) }));
}

function templateCount(operation: Operation): number {
  return operation.path.split('{').length - 1;
}

function tokenRequirementOf(
  spec: SpecDocument,
  operation: SpecOperation,
  enabled: ReadonlySet<string>,
): TokenRequirement {
  const security: SecurityRequirement[] = operation.security ?? spec.security ?? [];
  if (security.length === 0) return 'none';
  if (!security.some((requirement) => Object.keys(requirement).length === 0)) return 'required';
  const requiredWhen = operation['x-token-required-when'];
  return typeof requiredWhen === 'string' && enabled.has(requiredWhen) ? 'required' : 'optional';
}

export type Resolution =
  { operation: Operation; params: Record<string, string> } | { operation: undefined; allowedMethods: string[] }; // empty: no operation has this path

/**
 * The operation a request addresses. HEAD is answered as GET. A path the
 * spec has, asked with another method, comes back with the methods it allows.
 */
export function resolveOperation(operations: Operation[], method: string, path: string): Resolution {
  const asMethod = method === 'HEAD' ? 'GET' : method;
  const allowed = new Set<string>();
  for (const operation of operations) {
    const matched = operation.match(path);
    if (!matched) continue;
    if (operation.method === asMethod) return { operation, params: matched.params };
    allowed.add(operation.method);
    if (operation.method === 'GET') allowed.add('HEAD');
  }
  return { operation: undefined, allowedMethods: [...allowed] };
}
