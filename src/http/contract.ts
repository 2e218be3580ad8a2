// Request and reply types for each operation, taken from the types that
// openapi-typescript generates from openapi/openapi.yaml. Nothing here restates
// a contract shape by hand.
import type { operations } from '../../generated/openapi.js';
import type { OperationId } from '../contract/spec.js';
import type { Principal, RequestOrigin } from '../domain/model.js';

export type { OperationId };

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Parameters<O extends OperationId, In extends 'path' | 'query'> = NonNullable<operations[O]['parameters'][In]>;

export type RequestBody<O extends OperationId> = operations[O] extends { requestBody: infer R }
  ? JsonContent<R>
  : undefined;

type Responses<O extends OperationId> = operations[O]['responses'];
// What a handler answers itself; every other documented status comes from a thrown error.
type SuccessStatus<O extends OperationId> = Extract<keyof Responses<O>, 200 | 201 | 202 | 503>;

/** The body an operation documents for a status. */
export type ResponseBody<O extends OperationId, S extends keyof Responses<O>> = JsonContent<Responses<O>[S]>;

/** What a handler answers: a documented status and its body. Errors are thrown. */
export type Reply<O extends OperationId> = {
  [S in SuccessStatus<O>]: { status: S; body: JsonContent<Responses<O>[S]>; headers?: Record<string, string> };
}[SuccessStatus<O>];

/** A request that has passed authentication and validation against the spec. */
export interface OperationRequest<O extends OperationId> {
  params: Parameters<O, 'path'>;
  query: Parameters<O, 'query'>;
  body: RequestBody<O>;
  /** The caller, when a valid token was sent. Always set where the operation requires a token. */
  principal: Principal | undefined;
  /** The client address and request id, for rate limits and the audit trail. */
  origin: RequestOrigin;
}

export type OperationHandler<O extends OperationId> = (request: OperationRequest<O>) => Promise<Reply<O>>;

export type OperationHandlers = { [O in OperationId]: OperationHandler<O> };

/** Any operation's reply, as the dispatcher sends it. */
export interface AnyReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
