// Reads openapi/openapi.yaml, the source of truth, and turns its operations
// into a table the HTTP layer resolves requests against.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { match, type MatchFunction } from 'path-to-regexp';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { OperationId } from './contract.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsPlugin as unknown as typeof addFormatsPlugin.default;

export type SpecDocument = {
  paths: Record<string, Record<string, SpecOperation>>;
  security?: SecurityRequirement[];
  [key: string]: unknown;
};
type SecurityRequirement = Record<string, string[]>;
type SpecOperation = {
  operationId: OperationId;
  security?: SecurityRequirement[];
  requestBody?: unknown;
  parameters?: SpecNode[];
};
export type SpecNode = { $ref?: string; [key: string]: unknown };

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
  /** Matches a request path; parameter values come back still percent-encoded. */
  match: MatchFunction<Record<string, string>>;
}

/** The folder holding openapi/ (and dist/), found from this module, which runs from src/http and dist/src/http. */
export function projectRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'openapi', 'openapi.yaml'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error('openapi/openapi.yaml not found above ' + import.meta.url);
    folder = parent;
  }
  return folder;
}

export function specPath(): string {
  return join(projectRoot(), 'openapi', 'openapi.yaml');
}

export function loadSpec(): SpecDocument {
  return parse(readFileSync(specPath(), 'utf8')) as SpecDocument;
}

export function operationsOf(spec: SpecDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    const expressPath = path.replace(/{(\w+)}/g, ':$1');
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        id: operation.operationId,
        method: method.toUpperCase(),
        path,
        tokenRequirement: tokenRequirementOf(operation.security ?? spec.security ?? []),
        hasRequestBody: operation.requestBody !== undefined,
        integerParameters: integerParametersOf(spec, operation),
        match: match(expressPath, { decode: (value) => value }),
      });
    }
  }
  // A fixed path wins over a template that would also match it
  // (/users/pagination before /users/{user_id}), as OpenAPI says.
  return operations.sort((a, b) => templateCount(a) - templateCount(b));
}

function integerParametersOf(spec: SpecDocument, operation: SpecOperation): IntegerParameter[] {
  return (operation.parameters ?? [])
    .map((parameter) => resolveRef(spec, parameter))
    .filter((parameter) => (parameter.in === 'path' || parameter.in === 'query') && resolveRef(spec, parameter.schema as SpecNode).type === 'integer')
    .map((parameter) => ({ in: parameter.in as IntegerParameter['in'], name: String(parameter.name) }));
}

/** Follows local $refs (#/components/...) to the node they name. */
export function resolveRef<T extends SpecNode>(spec: SpecDocument, node: T): T {
  let resolved = node;
  while (resolved?.$ref) {
    resolved = resolved.$ref
      .slice(2)
      .split('/')
      .reduce<any>((at, key) => at[key], spec);
  }
  return resolved;
}

function templateCount(operation: Operation): number {
  return operation.path.split('{').length - 1;
}

function tokenRequirementOf(security: SecurityRequirement[]): TokenRequirement {
  if (security.length === 0) return 'none';
  return security.some((requirement) => Object.keys(requirement).length === 0) ? 'optional' : 'required';
}

export function resolveOperation(
  operations: Operation[],
  method: string,
  path: string,
): { operation: Operation; params: Record<string, string> } | undefined {
  for (const operation of operations) {
    if (operation.method !== method) continue;
    const matched = operation.match(path);
    if (matched) return { operation, params: matched.params };
  }
  return undefined;
}

/**
 * A validator for one of the spec's component schemas, with the same rules the
 * request validator applies (full email format). For input that does not
 * arrive over HTTP, such as the bootstrap admin.
 */
export function componentSchemaValidator(spec: SpecDocument, schemaName: string): (value: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { password: true } });
  addFormats(ajv, { mode: 'full' });
  ajv.addSchema({ ...spec, $id: 'openapi' });
  const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schemaName}` });
  return (value) =>
    validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
