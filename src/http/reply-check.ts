// Checks an error answer against what its operation documents: the status
// must be one it lists, and the body must match that response's schema. The
// validator checks the handlers' replies; this checks the answers that
// failures produce (validation, authentication, limits), in tests and
// development (VALIDATE_RESPONSES).
import type { ValidateFunction } from 'ajv';
import { resolveRef, specAjv, type SpecDocument, type SpecNode } from '../contract/spec.js';
import type { ReplyCheck } from './errors.js';

export function replyChecker(spec: SpecDocument): ReplyCheck {
  const ajv = specAjv(spec);
  const validators = new Map<string, ValidateFunction | undefined>();

  const validatorFor = (path: string, method: string, status: number) => {
    const key = `${method} ${path} ${status}`;
    if (!validators.has(key)) {
      const response = spec.paths[path]?.[method.toLowerCase()]?.responses[String(status)];
      const schema =
        response && (resolveRef(spec, response).content as Record<string, { schema?: SpecNode }> | undefined);
      const ref = schema?.['application/json']?.schema?.$ref;
      validators.set(key, ref ? ajv.compile({ $ref: `openapi${ref}` }) : undefined);
    }
    return validators.get(key);
  };

  return (operation, status, body) => {
    if (!operation.statuses.has(status)) return `${operation.id} answered ${status}, which its spec does not document`;
    const validate = validatorFor(operation.path, operation.method, status);
    if (validate && !validate(body)) return `${operation.id} ${status}: ${ajv.errorsText(validate.errors)}`;
    return undefined;
  };
}
