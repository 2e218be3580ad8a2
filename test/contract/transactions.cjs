// Shared by the contract-test runner and the Dredd hooks: the Dredd
// transaction each documented response becomes, and its schema in the spec.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { parse } = require('yaml');

const SPEC_PATH = join(__dirname, '..', '..', 'openapi', 'openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

function loadSpec() {
  return parse(readFileSync(SPEC_PATH, 'utf8'));
}

function resolveRef(spec, node) {
  while (node && node.$ref) {
    node = node.$ref.slice(2).split('/').reduce((at, key) => at[key], spec);
  }
  return node;
}

/** One entry per documented response: Dredd's transaction name, operation, status and body schema. */
function documentedResponses(spec) {
  const entries = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      for (const [status, responseOrRef] of Object.entries(operation.responses)) {
        const response = resolveRef(spec, responseOrRef);
        for (const [mediaType, content] of Object.entries(response.content ?? {})) {
          entries.push({
            name: `${path} > ${operation.summary} > ${status} > ${mediaType}`,
            operationId: operation.operationId,
            status: Number(status),
            schema: content.schema,
          });
        }
      }
    }
  }
  return entries;
}

module.exports = { SPEC_PATH, loadSpec, documentedResponses };
