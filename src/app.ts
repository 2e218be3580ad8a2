// Builds the Express application from its dependencies. Request pipeline, in
// the order the contract checks things:
//   operation lookup → JSON parsing (409) → normalization → authentication (401)
//   → validation against openapi.yaml (400) → handler (403/404/409) → error mapping
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { SessionService } from './domain/sessions.js';
import type { UserService } from './domain/users.js';
import { errorHandler } from './http/errors.js';
import { authHandlers } from './http/handlers/auth.js';
import { userHandlers } from './http/handlers/users.js';
import { authenticate } from './http/middleware/authenticate.js';
import { normalizeBody, parseJsonBody } from './http/middleware/body.js';
import { resolveOperationMiddleware } from './http/middleware/resolve-operation.js';
import { dispatch } from './http/router.js';
import { operationsOf, type SpecDocument } from './http/spec.js';
import type { Logger } from './logger.js';

export const BODY_LIMIT = '16kb';

export interface AppDependencies {
  users: UserService;
  sessions: SessionService;
  spec: SpecDocument;
  logger: Logger;
  settings: {
    usersListRequiresAuth: boolean;
    /** Check every response against the spec (tests and development); a stray one becomes a 500. */
    validateResponses: boolean;
  };
}

export function buildApp({ users, sessions, spec, logger, settings }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(resolveOperationMiddleware(operationsOf(spec)));
  app.use(parseJsonBody(express.json({ limit: BODY_LIMIT })));
  app.use(normalizeBody);
  app.use(authenticate(sessions, settings));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(spec) as unknown as Parameters<typeof OpenApiValidator.middleware>[0]['apiSpec'],
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
      validateResponses: settings.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false, // done by `authenticate`, before validation
      validateFormats: true,
      ajvFormats: { mode: 'full' }, // the fast mode accepts a@b
    }),
  );
  app.use(dispatch({ ...userHandlers(users), ...authHandlers(sessions) }));
  app.use(errorHandler(logger));
  return app;
}
