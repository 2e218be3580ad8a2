// Generated negative and boundary requests for every operation, derived from
// the spec's schemas, sent to the real app with response validation on: no
// request may get a 5xx, and every answer must be one the spec documents for
// that operation (a body that strays from the spec would itself become a 500).
// Fixed seed and bounded runs, so CI is repeatable; FUZZ_SEED and FUZZ_RUNS explore further.
import { expect } from 'chai';
import fc from 'fast-check';
import { loadSpec, resolveRef, type SpecDocument } from '../../src/contract/spec.js';
import { ADMIN, startTestServer, type TestServer } from '../support/server.js';
import { body, pathSegment } from './arbitraries.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

interface SpecOperation {
  operationId: string;
  parameters?: { $ref?: string; name?: string; in?: string; schema?: object }[];
  requestBody?: { content: { 'application/json': { schema: object } } };
  responses: Record<string, unknown>;
}

const spec = loadSpec();
const operations = Object.entries(spec.paths)
  .flatMap(([path, methods]) =>
    Object.entries(methods as unknown as Record<string, SpecOperation>).map(([method, operation]) => ({
      path,
      method,
      operation,
    })),
  )
  // Logging out ends the shared session; fuzz it last so the others keep a valid token.
  .sort((a, b) => Number(a.operation.operationId === 'logout') - Number(b.operation.operationId === 'logout'));

function queryArbitrary(specDocument: SpecDocument, operation: SpecOperation): fc.Arbitrary<string> {
  const parameters = (operation.parameters ?? []).map(
    (p) => resolveRef(specDocument, p) as { name: string; in: string },
  );
  const query = parameters.filter((p) => p.in === 'query');
  if (query.length === 0) return fc.constant('');
  const value = fc.oneof(
    fc.integer({ min: -5, max: 150 }).map(String),
    fc.constantFrom('', '1e1', '0x10', '01', 'abc', '1.5', '%2B1', '2147483648'),
  );
  return fc
    .record(Object.fromEntries(query.map((p) => [p.name, value])), { requiredKeys: [] })
    .chain((params) =>
      fc.oneof({ weight: 5, arbitrary: fc.constant(params) }, fc.constant({ ...params, unknown: '1' })),
    )
    .map((params) =>
      Object.keys(params).length === 0
        ? ''
        : '?' +
          Object.entries(params)
            .map(([k, v]) => `${k}=${v}`)
            .join('&'),
    );
}

describe(`fuzzing every operation from the spec (seed ${SEED}, ${RUNS} runs each)`, function () {
  this.timeout(180_000);
  let api: TestServer;
  const tokens: Record<string, string | undefined> = {};

  before(async () => {
    api = await startTestServer({
      LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      LOGIN_MAX_FAILURES_PER_EMAIL: '0',
    });
    tokens.admin = await api.login(ADMIN.email, ADMIN.password);
    tokens.user = (await api.register()).token;
    tokens.garbage = 'not.a.token';
    tokens.none = undefined;
  });
  after(() => api.close());

  for (const { path, method, operation } of operations) {
    const documented = Object.keys(operation.responses).map(Number);
    it(`${operation.operationId}: never a 5xx, every answer documented`, async () => {
      const schema = operation.requestBody?.content['application/json'].schema;
      const request = fc.record({
        who: fc.constantFrom('admin', 'user', 'garbage', 'none'),
        segment: pathSegment(),
        query: queryArbitrary(spec, operation),
        payload: schema
          ? fc.oneof(
              { weight: 9, arbitrary: body(spec, schema).map((b) => JSON.stringify(b)) },
              fc.string({ maxLength: 20 }),
            )
          : fc.constant(undefined),
      });
      const unexpected: string[] = [];
      await fc
        .assert(
          fc.asyncProperty(request, async ({ who, segment, query, payload }) => {
            const url = path.replace(/{[^}]+}/g, segment) + query;
            const reply = await api.request(method.toUpperCase(), url, { raw: payload, token: tokens[who] });
            if (reply.status >= 500 || !documented.includes(reply.status)) {
              unexpected.push(
                `${method.toUpperCase()} ${url} (${who}) ${payload ?? ''} -> ${reply.status} ${JSON.stringify(reply.body)}`,
              );
            }
            return reply.status < 500 && documented.includes(reply.status);
          }),
          { seed: SEED, numRuns: RUNS, endOnFailure: true },
        )
        .catch((error: Error) => {
          throw new Error(`${unexpected.join('\n')}\n${error.message.split('\n')[0]}`);
        });
      expect(unexpected).to.deep.equal([]);
    });
  }

  it('left the data intact: the admin still logs in and the tables answer', async () => {
    expect(
      (await api.request('POST', '/login', { body: { email: ADMIN.email, password: ADMIN.password } })).status,
    ).to.equal(200);
    expect((await api.request('GET', '/users/pagination')).status).to.equal(200);
  });
});
