// Builds the Redoc page (dist/docs/index.html) from the bundled spec
// (generated/openapi.bundled.yaml) when the spec is newer. Redocly prints
// banners on every run (Node 20's end of support, its Redoc 3 notice) that
// nobody starting the service must read, so its output is kept and shown
// only if the build fails.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SPEC = join(ROOT, 'generated', 'openapi.bundled.yaml');
const PAGE = join(ROOT, 'dist', 'docs', 'index.html');

if (existsSync(PAGE) && statSync(PAGE).mtimeMs > statSync(SPEC).mtimeMs) process.exit(0);
const redocly = join(ROOT, 'node_modules', '.bin', 'redocly');
const run = spawnSync(redocly, ['build-docs', SPEC, '-o', PAGE, '--inlineBundle'], { cwd: ROOT, encoding: 'utf8' });
if (run.status !== 0) {
  process.stderr.write(run.stdout + run.stderr);
  console.error(`building the documentation page failed (redocly exited with ${run.status ?? run.signal})`);
  process.exit(1);
}
