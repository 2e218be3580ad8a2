// fast-check arbitraries derived from the spec's request schemas: valid
// values, boundary values, and values that break the schema on purpose.
import fc from 'fast-check';
import { resolveRef, type SpecDocument } from '../../src/contract/spec.js';

type Schema = {
  $ref?: string;
  type?: string;
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  minProperties?: number;
};

const INJECTION = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '1); DELETE FROM sessions; --',
  "admin'--",
  '%27%20OR%201%3D1',
  '\\x00\\u0000',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
];

/** Any JSON value of a type the schema does not take. */
function wrongType(schema: Schema): fc.Arbitrary<unknown> {
  const all: [string, fc.Arbitrary<unknown>][] = [
    ['string', fc.string()],
    ['integer', fc.integer()],
    ['boolean', fc.boolean()],
    ['null', fc.constant(null)],
    ['array', fc.array(fc.string(), { maxLength: 3 })],
    ['object', fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 })],
  ];
  return fc.oneof(...all.filter(([type]) => type !== schema.type).map(([, arbitrary]) => arbitrary));
}

/** Values a field could be sent with: valid, at and past its bounds, hostile text, or another type. */
export function fieldValue(spec: SpecDocument, raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolveRef(spec, raw);
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum), fc.string({ maxLength: 12 }), wrongType(schema));
  if (schema.type === 'integer') {
    const min = schema.minimum ?? -1e9;
    const max = schema.maximum ?? 1e9;
    return fc.oneof(
      fc.integer({ min, max }),
      fc.constantFrom(min - 1, min, max, max + 1, 0, -1, 2 ** 53),
      wrongType(schema),
    );
  }
  if (schema.type === 'string') {
    const min = schema.minLength ?? 0;
    const max = schema.maxLength ?? 64;
    const valid =
      schema.format === 'email'
        ? fc.emailAddress().filter((e) => e.length <= max)
        : schema.pattern
          ? fc.stringMatching(new RegExp(schema.pattern)).filter((v) => v.length >= min && v.length <= max)
          : fc.string({ minLength: min, maxLength: Math.min(max, 40), unit: 'grapheme' });
    return fc.oneof(
      { weight: 4, arbitrary: valid },
      fc.constantFrom('', 'a'.repeat(Math.max(0, min - 1)), 'a'.repeat(max), 'a'.repeat(max + 1)),
      fc.constantFrom(...INJECTION),
      fc.string({ maxLength: 30, unit: 'binary' }),
      wrongType(schema),
    );
  }
  return wrongType({});
}

/** Bodies for an object schema: mostly close to valid, each broken in at most a few ways. */
export function body(spec: SpecDocument, raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolveRef(spec, raw);
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const record = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, fieldSchema]) => [name, fieldValue(spec, fieldSchema)])),
    { requiredKeys: [...required].filter((name) => name in properties) },
  );
  return fc.oneof(
    { weight: 6, arbitrary: record },
    record.map((value) => ({ ...value, unexpected_field: 'x' })),
    wrongType({ type: 'object' }),
    fc.constant({}),
  );
}

/** Path segments for an integer path parameter: good ids, bad ids, and odd text. */
export function pathSegment(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 1, max: 40 }).map(String),
    fc.constantFrom('0', '-1', '1e3', '0x1', '01', '%25', '%', '99999999999', 'null', "1'%20OR%20'1'='1"),
    fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
  );
}
