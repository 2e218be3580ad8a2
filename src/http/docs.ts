// The API's own documentation: the Redoc page built from the spec at build
// time (npm run build:docs, self-contained: no CDN), and the spec itself.
import type { RequestHandler } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, specPath, type SpecDocument } from '../contract/spec.js';

export const DOCS_PATH = '/docs';

// Redoc renders with inline scripts and styles and searches in a blob: worker;
// it loads nothing from elsewhere.
const DOCS_CONTENT_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  'worker-src blob:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET handlers by path, for `fixedRoutes`. */
export function documentationRoutes(spec: SpecDocument): Record<string, RequestHandler> {
  const page = join(projectRoot(), 'dist', 'docs', 'index.html');
  const specJson = JSON.stringify(spec);
  const specYaml = readFileSync(specPath(), 'utf8');
  return {
    [DOCS_PATH]: (_req, res) => {
      if (!existsSync(page)) {
        res.status(404).json({ error: 'Documentation not built: run npm run build' });
        return;
      }
      res.set('Content-Security-Policy', DOCS_CONTENT_POLICY);
      res.sendFile(page);
    },
    '/openapi.json': (_req, res) => {
      res.type('application/json').send(specJson);
    },
    '/openapi.yaml': (_req, res) => {
      res.type('application/yaml').send(specYaml);
    },
  };
}
