// What the HTTP middleware learns about a request, carried on it for the next step.
import type { Principal } from '../domain/model.js';
import type { Operation } from './operations.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The spec operation this request addresses; unset for paths the spec does not list. */
    operation?: Operation;
    /** Path parameters as sent, still percent-encoded. */
    rawPathParams?: Record<string, string>;
    /** From X-Request-Id when the client sent a usable one, generated otherwise; echoed in the response. */
    requestId: string;
    /** The caller, set once a valid token has been checked. */
    principal?: Principal;
  }
}
