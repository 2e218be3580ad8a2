// A second client generated from the bundled spec, by a generator
// independent of openapi-typescript: swagger-typescript-api with its
// defaults, as a new user would run it. It writes
// generated/swagger-typescript-api/api.ts (committed like the types, so the
// walk in test/http/generated-client.test.ts is checked by the compiler);
// `--out FOLDER` writes it elsewhere, and `--check` fails when the committed
// client is not what the generator gives for today's spec.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SPEC = join(ROOT, 'generated', 'openapi.bundled.yaml');
const COMMITTED = join(ROOT, 'generated', 'swagger-typescript-api');
const CLIENT_FILE = 'api.ts';

function generateInto(folder: string): void {
  const generator = join(ROOT, 'node_modules', '.bin', 'swagger-typescript-api');
  const args = ['generate', '--path', SPEC, '--output', folder, '--name', CLIENT_FILE];
  const run = spawnSync(generator, args, { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error(`generating the client failed (swagger-typescript-api exited with ${run.status ?? run.signal})`);
    process.exit(1);
  }
}

const outAt = process.argv.indexOf('--out');
if (process.argv.includes('--check')) {
  const work = mkdtempSync(join(tmpdir(), 'client-'));
  try {
    generateInto(work);
    const fresh = readFileSync(join(work, CLIENT_FILE), 'utf8');
    let committed = '';
    try {
      committed = readFileSync(join(COMMITTED, CLIENT_FILE), 'utf8');
    } catch {
      // missing: reported as drift below
    }
    if (fresh !== committed) {
      console.error('generated/swagger-typescript-api/api.ts is not current: run npm run generate');
      process.exitCode = 1;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
} else {
  generateInto(outAt > 0 ? process.argv[outAt + 1] : COMMITTED);
}
