// Request validation against openapi.yaml (and, in tests and development,
// response validation) with express-openapi-validator's own validators, given
// the operation the request was already matched to.
//
// The package's middleware() would match every request a second time, and
// does it by compiling each route's pattern anew, in order, until one fits:
// about 50 µs of GET /protected's 315 µs of CPU, more for paths further down
// the list (bench/README.md; upstream: cdimascio/express-openapi-validator
// pull request 1217). Here the operation table is the one place that matches
// (http/operations.ts), and the validators check exactly what they checked
// behind middleware(): the same classes, options and preprocessed spec.
// Those classes are the package's own modules, not its documented interface:
// its version is pinned exactly (package.json), and the contract tests and
// the HTTP suite would fail on a change in them.
import type { RequestHandler } from 'express';
import { error as validatorErrors } from 'express-openapi-validator';
import type {
  OpenApiRequest,
  OpenApiRequestMetadata,
  OpenAPIV3,
  ValidateResponseOpts,
} from 'express-openapi-validator/dist/framework/types.js';
import { RequestValidator, ResponseValidator } from 'express-openapi-validator/dist/middlewares/index.js';
import { SchemaPreprocessor } from 'express-openapi-validator/dist/middlewares/parsers/schema.preprocessor.js';
import { OpenApiValidator } from 'express-openapi-validator/dist/openapi.validator.js';
import { afterNormalization, type SpecDocument } from '../contract/spec.js';
import { expressPathOf, type Operation } from './operations.js';
import './request-context.js';

type ApiDocument = OpenAPIV3.DocumentV3 & { paths: Record<string, Record<string, OpenAPIV3.OperationObject>> };

// What middleware() sets on req.openapi so the response validator knows the
// request was validated against this spec.
const SPEC_SERIAL = 1;

export interface ValidationSettings {
  /** Check every response against the spec (tests and development); a stray one becomes a 500. */
  validateResponses: boolean;
}

/** The validation steps, in order: requests, then (when on) the check of responses. */
export function specValidation(
  spec: SpecDocument,
  operations: Operation[],
  settings: ValidationSettings,
): RequestHandler[] {
  const apiDoc = validatorSpec(spec);
  const options = new OpenApiValidator({
    apiSpec: apiDoc,
    validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
    validateResponses: settings.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false, // done by `authenticate`, before validation
    validateFormats: true,
    ajvFormats: { mode: 'full' }, // the fast mode accepts a@b
    // The spec is checked where it changes: npm run lint (Redocly, Spectral)
    // and the type generation.
    validateApiSpec: false,
  });
  // Off is `false` here and falsy in SchemaPreprocessor, as middleware() passes it.
  const responseOptions = options.options.validateResponses as ValidateResponseOpts;
  const { apiDocRes } = new SchemaPreprocessor(apiDoc, options.ajvOpts.preprocessor, responseOptions).preProcess();
  const requests = new RequestValidator(apiDoc, options.ajvOpts.request);

  // What middleware() would have found for each operation.
  const routes = new Map<Operation, Omit<OpenApiRequestMetadata, 'pathParams'>>(
    operations.map((operation) => {
      const { path } = operation;
      const method = operation.method.toLowerCase();
      const route = {
        expressRoute: expressPathOf(path),
        openApiRoute: path,
        schema: apiDoc.paths[path][method],
        serial: SPEC_SERIAL,
        ...(apiDocRes ? { _responseSchema: (apiDocRes as ApiDocument).paths[path][method] } : {}),
      };
      return [operation, route];
    }),
  );

  const validateRequest: RequestHandler = (req, res, next) => {
    const operation = req.operation;
    // Paths outside the spec meet the 404 at the end of the app.
    if (!operation) return next();
    const route = routes.get(operation)!;
    (req as OpenApiRequest).openapi = { ...route, pathParams: decodedParams(req.rawPathParams ?? {}, req.path) };
    return requests.validate(req, res, next);
  };
  if (!settings.validateResponses) return [validateRequest];
  const responses = new ResponseValidator(apiDocRes, options.ajvOpts.response, responseOptions, SPEC_SERIAL).validate();
  return [validateRequest, responses];
}

function decodedParams(raw: Record<string, string>, path: string): Record<string, string> {
  try {
    return Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, decodeURIComponent(value)]));
  } catch {
    throw new validatorErrors.BadRequest({ path, message: 'malformed uri' });
  }
}

/**
 * The spec as the validator reads it. It validates normalized input, so the
 * strict schemas stand in for the request schemas that describe what a
 * client may send. An operation that documents no 400 can't refuse input
 * with one, so unknown query parameters are ignored there (a cache-busting
 * probe, `/healthz?t=1`); elsewhere they are a 400.
 */
function validatorSpec(spec: SpecDocument): ApiDocument {
  const copy = afterNormalization(spec);
  for (const methods of Object.values(copy.paths)) {
    for (const operation of Object.values(methods)) {
      if (!('400' in operation.responses)) operation['x-eov-allow-unknown-query-parameters'] = true;
    }
  }
  return copy as unknown as ApiDocument;
}
