// Builds the Express application from its dependencies. Request pipeline, in
// the order the contract checks things:
//   operation lookup → JSON parsing (409) → normalization → authentication (401)
//   → parameter and body validation against openapi.yaml (400)
//   → handler (403/404/409) → error mapping
import cors from 'cors';
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { SessionService } from './domain/sessions.js';
import type { UserService } from './domain/users.js';
import { documentationRoutes } from './http/docs.js';
import type { Metrics } from './http/metrics.js';
import { errorHandler } from './http/errors.js';
import { authHandlers } from './http/handlers/auth.js';
import { healthHandlers, type ReadinessProbe } from './http/handlers/health.js';
import { userHandlers } from './http/handlers/users.js';
import { authenticate } from './http/middleware/authenticate.js';
import { normalizeBody, parseJsonBody, refuseInvalidUtf8, refuseUnsafeContent } from './http/middleware/body.js';
import { requireCanonicalIntegers } from './http/middleware/parameters.js';
import { assignRequestId } from './http/middleware/request-id.js';
import { resolveOperationMiddleware } from './http/middleware/resolve-operation.js';
import { securityHeaders } from './http/middleware/security-headers.js';
import { fixedRoutes, inSequence } from './http/middleware/sequence.js';
import { dispatch } from './http/router.js';
import { operationsOf, type SpecDocument } from './http/spec.js';
import { requestLogger, type Logger } from './logger.js';

export const BODY_LIMIT = '16kb';

// helmet's defaults, with a content policy for a JSON API: it serves nothing a
// browser should render, run or frame.
const JSON_API_HEADERS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
};

export interface AppDependencies {
  users: UserService;
  sessions: SessionService;
  readiness: ReadinessProbe;
  metrics: Metrics;
  spec: SpecDocument;
  logger: Logger;
  settings: {
    usersListRequiresAuth: boolean;
    /** Browser origins allowed by CORS; empty turns CORS off. */
    corsOrigins: string[];
    /** Proxies trusted to report the client address in X-Forwarded-For. */
    trustProxy: number;
    /** Check every response against the spec (tests and development); a stray one becomes a 500. */
    validateResponses: boolean;
  };
}

export function buildApp({ users, sessions, readiness, metrics, spec, logger, settings }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETags: the contract documents no 304, so If-None-Match must not earn
  // one; and hashing every body cost about 12 µs a response.
  app.set('etag', false);
  app.set('trust proxy', settings.trustProxy);
  // The steps before validation, as one Express layer (see inSequence).
  app.use(
    inSequence(
      assignRequestId,
      requestLogger(logger),
      metrics.record,
      securityHeaders(JSON_API_HEADERS),
      ...(settings.corsOrigins.length > 0
        ? [cors({ origin: settings.corsOrigins, allowedHeaders: ['Authorization', 'Content-Type'], maxAge: 600 })]
        : []),
      fixedRoutes({ ...documentationRoutes(spec), ...metrics.routes }),
      resolveOperationMiddleware(operationsOf(spec)),
      // strict: false, so valid JSON of the wrong type (null, 1, "x") meets the
      // validator (400) rather than the parser (409); inflate: false refuses
      // compressed bodies (no zip bombs; 16 KiB needs no compression).
      parseJsonBody(express.json({ limit: BODY_LIMIT, strict: false, inflate: false, verify: refuseInvalidUtf8 })),
      refuseUnsafeContent,
      normalizeBody,
      authenticate(sessions, settings),
      requireCanonicalIntegers,
    ),
  );
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(spec) as unknown as Parameters<typeof OpenApiValidator.middleware>[0]['apiSpec'],
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
      validateResponses: settings.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false, // done by `authenticate`, before validation
      validateFormats: true,
      ajvFormats: { mode: 'full' }, // the fast mode accepts a@b
      // The spec is checked where it changes: npm run lint (Redocly, Spectral)
      // and the type generation. Checking it again against the OpenAPI
      // schema took about 250 ms of every process's start-up.
      validateApiSpec: false,
    }),
  );
  app.use(dispatch({ ...userHandlers(users), ...authHandlers(sessions), ...healthHandlers(readiness) }));
  app.use(errorHandler(logger));
  return app;
}
