// Builds the Express application from its dependencies. Request pipeline, in
// the order the contract checks things:
//   operation lookup → JSON parsing (409) → normalization → authentication (401)
//   → parameter and body validation against openapi.yaml (400)
//   → unverified email (403, with REQUIRE_VERIFIED_EMAIL) → required role (403)
//   → second factor of a role that needs one (403, with MFA_REQUIRED_ROLES)
//   → recent authentication (403, x-requires-recent-authentication)
//   → handler (403/404/409) → error mapping
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';
import type { RecoveryService } from './domain/recovery.js';
import type { EmailRevert } from './domain/email-revert.js';
import type { RecentAuthentication } from './domain/recent-authentication.js';
import type { SecondFactorService } from './domain/second-factor.js';
import type { SessionService } from './domain/sessions.js';
import type { UserService } from './domain/users.js';
import type { EmailVerification } from './domain/verification.js';
import type { Administration } from './domain/administration.js';
import type { Role } from './domain/model.js';
import { adminHandlers } from './http/handlers/admin.js';
import { requireRole } from './http/middleware/required-role.js';
import { requireRecentAuthentication } from './http/middleware/recent-authentication.js';
import { requireSecondFactorFor } from './http/middleware/required-second-factor.js';
import { secondFactorHandlers } from './http/handlers/second-factor.js';
import { documentationRoutes } from './http/docs.js';
import type { Metrics } from './http/metrics.js';
import { errorHandler } from './http/errors.js';
import { accountHandlers } from './http/handlers/account.js';
import { authHandlers } from './http/handlers/auth.js';
import { healthHandlers, type ReadinessProbe } from './http/handlers/health.js';
import { recoveryHandlers } from './http/handlers/recovery.js';
import { sessionHandlers } from './http/handlers/sessions.js';
import { tokenHandlers, type PublishedKeys } from './http/handlers/tokens.js';
import { userHandlers } from './http/handlers/users.js';
import { authenticate } from './http/middleware/authenticate.js';
import { normalizeBody, parseJsonBody, refuseInvalidUtf8, refuseUnsafeContent } from './http/middleware/body.js';
import { requireCanonicalIntegers } from './http/middleware/parameters.js';
import { assignRequestId } from './http/middleware/request-id.js';
import { resolveOperationMiddleware } from './http/middleware/resolve-operation.js';
import { securityHeaders } from './http/middleware/security-headers.js';
import { requireVerifiedEmail } from './http/middleware/verified-email.js';
import { fixedRoutes, inSequence } from './http/middleware/sequence.js';
import { dispatch } from './http/router.js';
import type { SpecDocument } from './contract/spec.js';
import type { Operation } from './http/operations.js';
import { replyChecker } from './http/reply-check.js';
import { specValidation } from './http/validation.js';
import type { Logger } from './logger.js';
import { requestLogger } from './http/middleware/request-log.js';

export const BODY_LIMIT = '16kb';

// helmet's defaults, with a content policy for a JSON API: it serves nothing a
// browser should render, run or frame.
const JSON_API_HEADERS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
};

export interface AppDependencies {
  users: UserService;
  sessions: SessionService;
  recovery: RecoveryService;
  verification: EmailVerification;
  administration: Administration;
  secondFactor: SecondFactorService;
  recent: RecentAuthentication;
  emailRevert: EmailRevert;
  /** The JWKS. */
  publishedKeys: PublishedKeys;
  readiness: ReadinessProbe;
  /** True once shutdown has begun: answers then close their connection. */
  draining: () => boolean;
  /** Takes work an answer has promised and that goes on after it; shutdown waits for it. */
  promised: (work: Promise<void>) => void;
  metrics: Metrics;
  spec: SpecDocument;
  /** The spec's operations with their policy (http/operations.ts). */
  operations: Operation[];
  logger: Logger;
  settings: {
    /** Browser origins allowed by CORS; empty turns CORS off. */
    corsOrigins: string[];
    /** Proxies trusted to report the client address in X-Forwarded-For. */
    trustProxy: number;
    /** Check every response against the spec (tests and development); a stray one becomes a 500. */
    validateResponses: boolean;
    /** An account whose email is not verified may only call the operations that allow it. */
    requireVerifiedEmail: boolean;
    /** Roles whose accounts, signed in without a second factor, may only call the operations that allow it. */
    mfaRequiredRoles: Role[];
  };
}

export function buildApp(dependencies: AppDependencies): Express {
  const { users, sessions, recovery, verification, administration, secondFactor, publishedKeys, readiness } =
    dependencies;
  const { draining, metrics, recent, emailRevert } = dependencies;
  const { spec, operations, logger, settings, promised } = dependencies;
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
      closeConnectionWhileDraining(draining),
      requestLogger(logger),
      metrics.record,
      securityHeaders(JSON_API_HEADERS),
      ...(settings.corsOrigins.length > 0
        ? [cors({ origin: settings.corsOrigins, allowedHeaders: ['Authorization', 'Content-Type'], maxAge: 600 })]
        : []),
      answerServerWideRequests(operations),
      fixedRoutes({ ...documentationRoutes(spec), ...metrics.routes }),
      resolveOperationMiddleware(operations),
      // strict: false, so valid JSON of the wrong type (null, 1, "x") meets the
      // validator (400) rather than the parser (409); inflate: false refuses
      // compressed bodies (no zip bombs; 16 KiB needs no compression).
      parseJsonBody(express.json({ limit: BODY_LIMIT, strict: false, inflate: false, verify: refuseInvalidUtf8 })),
      refuseUnsafeContent,
      normalizeBody,
      authenticate(sessions),
      requireCanonicalIntegers,
    ),
  );
  app.use(specValidation(spec, operations, settings));
  if (settings.requireVerifiedEmail) app.use(requireVerifiedEmail);
  app.use(requireRole);
  if (settings.mfaRequiredRoles.length > 0) app.use(requireSecondFactorFor(new Set(settings.mfaRequiredRoles)));
  app.use(requireRecentAuthentication((principal) => recent.isRecent(principal)));
  app.use(
    dispatch({
      ...userHandlers(users),
      ...accountHandlers(users, verification, secondFactor, emailRevert),
      ...secondFactorHandlers(secondFactor),
      ...authHandlers(sessions),
      ...sessionHandlers(sessions),
      ...tokenHandlers(sessions, publishedKeys),
      ...adminHandlers(administration),
      ...recoveryHandlers(recovery, promised),
      ...healthHandlers(readiness),
    }),
  );
  app.use(() => {
    // Nothing answered: a request target no route has, such as `*`.
    throw new validatorErrors.NotFound({ path: '*', message: 'not found' });
  });
  app.use(errorHandler(logger, settings.validateResponses ? replyChecker(spec) : undefined));
  return app;
}

/**
 * While the instance drains, every answer says `Connection: close`, so a
 * keep-alive client opens its next request elsewhere instead of sending it
 * on a connection that is about to close.
 */
function closeConnectionWhileDraining(draining: () => boolean): RequestHandler {
  return (_req, res, next) => {
    if (draining()) res.setHeader('Connection', 'close');
    next();
  };
}

/**
 * `OPTIONS *` asks what the server supports (RFC 9110 §9.3.7): 204 with
 * Allow. Any other method on `*` falls through to the JSON 404 at the end.
 */
function answerServerWideRequests(operations: Operation[]): RequestHandler {
  const methods = new Set([
    'OPTIONS',
    ...operations.flatMap((o) => (o.method === 'GET' ? ['GET', 'HEAD'] : [o.method])),
  ]);
  const allow = [...methods].sort().join(', ');
  return (req, res, next) => {
    if (req.url !== '*' || req.method !== 'OPTIONS') return next();
    res.setHeader('Allow', allow);
    res.status(204).end();
  };
}
