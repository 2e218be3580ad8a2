// Reads the spec for the app and the CLI alike: the document, its $refs and
// validators for its schemas. The source of truth is openapi/ (a root and the
// files it refers to); this reads the one document bundled from it,
// generated/openapi.bundled.yaml (npm run generate), whose $refs are all local.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { operations } from '../../generated/openapi.js';

export type OperationId = keyof operations;

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsPlugin as unknown as typeof addFormatsPlugin.default;

export type SpecDocument = {
  paths: Record<string, Record<string, SpecOperation>>;
  security?: SecurityRequirement[];
  [key: string]: unknown;
};
export type SecurityRequirement = Record<string, string[]>;
export type SpecOperation = {
  operationId: OperationId;
  summary?: string;
  security?: SecurityRequirement[];
  requestBody?: unknown;
  parameters?: SpecNode[];
  responses: Record<string, SpecNode>;
  [extension: `x-${string}`]: unknown;
};
export type SpecNode = { $ref?: string; [key: string]: unknown };

const BUNDLED_SPEC = join('generated', 'openapi.bundled.yaml');

/** The folder holding generated/ (and dist/), found from this module, which runs from src/contract and dist/src/contract. */
export function projectRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, BUNDLED_SPEC))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`${BUNDLED_SPEC} not found above ${import.meta.url}`);
    folder = parent;
  }
  return folder;
}

/** The bundled spec: one self-contained document. */
export function specPath(): string {
  return join(projectRoot(), BUNDLED_SPEC);
}

export function loadSpec(): SpecDocument {
  return parse(readFileSync(specPath(), 'utf8')) as SpecDocument;
}

/**
 * The error texts a documented response allows (the `error` enum of its
 * JSON schema, through $refs and allOf), in the spec's order.
 */
export function errorTextsOf(spec: SpecDocument, response: SpecNode | undefined): string[] {
  if (!response) return [];
  const content = resolveRef(spec, response).content as Record<string, { schema?: SpecNode }> | undefined;
  const texts: string[] = [];
  const visit = (node: SpecNode | undefined) => {
    if (!node) return;
    const schema = resolveRef(spec, node);
    for (const part of (schema.allOf as SpecNode[] | undefined) ?? []) visit(part);
    const error = (schema.properties as Record<string, SpecNode> | undefined)?.error;
    const named = error && resolveRef(spec, error);
    for (const text of (named?.enum as string[] | undefined) ?? []) if (!texts.includes(text)) texts.push(text);
  };
  visit(content?.['application/json']?.schema);
  return texts;
}

/** Follows local $refs (#/components/...) to the node they name. */
export function resolveRef<T extends SpecNode>(spec: SpecDocument, node: T): T {
  let resolved = node;
  while (resolved?.$ref) {
    resolved = resolved.$ref
      .slice(2)
      .split('/')
      .reduce<Record<string, unknown>>((at, key) => at[key] as Record<string, unknown>, spec) as T;
  }
  return resolved;
}

/**
 * The spec as the server checks input after normalizing it: a request schema
 * that says what a client may send (`EmailInput`: spaces, full-width
 * letters) and names the schema its normalized value must meet
 * (`x-normalized-schema: Email`) is replaced by that stricter schema.
 */
export function afterNormalization(spec: SpecDocument): SpecDocument {
  const copy = structuredClone(spec);
  const schemas = (copy.components as { schemas?: Record<string, SpecNode> } | undefined)?.schemas ?? {};
  for (const [name, schema] of Object.entries(schemas)) {
    const strict = schema['x-normalized-schema'];
    if (typeof strict === 'string') schemas[name] = { $ref: `#/components/schemas/${strict}` };
  }
  return copy;
}

/**
 * An Ajv that holds the spec as `openapi`, with the request validator's
 * rules (full email format): compile `{ $ref: 'openapi#/components/…' }`.
 */
export function specAjv(spec: SpecDocument): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { password: true } });
  addFormats(ajv, { mode: 'full' });
  ajv.addSchema({ ...spec, $id: 'openapi' });
  return ajv;
}

/**
 * A validator for one of the spec's component schemas, as the request
 * validator checks normalized input. For input that does not arrive over
 * HTTP, such as the bootstrap admin.
 */
export function componentSchemaValidator(spec: SpecDocument, schemaName: string): (value: unknown) => string[] {
  const ajv = specAjv(afterNormalization(spec));
  const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schemaName}` });
  return (value) =>
    validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
