// Shared by the contract-test runner and the Dredd hooks: the Dredd
// transaction each documented response becomes, found with the app's own
// spec resolver.
import { resolveRef, type SpecDocument, type SpecNode } from '../../src/contract/spec.js';

export interface DocumentedResponse {
  /** Dredd's transaction name: path > summary > status > media type. */
  name: string;
  /** What the hooks key their setups by: `operationId status`. */
  key: string;
  operationId: string;
  status: number;
  /** The response body's schema, a $ref into the spec's components. */
  schemaRef: string;
}

export function documentedResponses(spec: SpecDocument): DocumentedResponse[] {
  const entries: DocumentedResponse[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const operation of Object.values(methods)) {
      for (const [status, responseOrRef] of Object.entries(operation.responses)) {
        const response = resolveRef(spec, responseOrRef);
        const content = (response.content ?? {}) as Record<string, { schema: SpecNode }>;
        for (const [mediaType, { schema }] of Object.entries(content)) {
          entries.push({
            name: `${path} > ${operation.summary ?? ''} > ${status} > ${mediaType}`,
            key: `${operation.operationId} ${status}`,
            operationId: operation.operationId,
            status: Number(status),
            schemaRef: String(schema.$ref),
          });
        }
      }
    }
  }
  return entries;
}
