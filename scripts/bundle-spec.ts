// Bundles the spec's source (openapi/openapi.yaml and the path and component
// files it refers to) into the one self-contained document everything else
// reads: generated/openapi.bundled.yaml, committed like the types, so the
// server needs no dev dependency to run. `--if-stale` (npm run build) bundles
// only when a source file is newer than the bundle; `--check` fails when the
// bundle is not what the source gives. Redocly's banners are kept and shown
// only if bundling fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SOURCE = join(ROOT, 'openapi');
const BUNDLE = join(ROOT, 'generated', 'openapi.bundled.yaml');
const mode = process.argv[2];

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(folder, entry.name)) : [join(folder, entry.name)],
  );
}

function bundleTo(file: string): void {
  const redocly = join(ROOT, 'node_modules', '.bin', 'redocly');
  const run = spawnSync(redocly, ['bundle', join(SOURCE, 'openapi.yaml'), '-o', file], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error(`bundling the spec failed (redocly exited with ${run.status ?? run.signal})`);
    process.exit(1);
  }
}

if (mode === '--if-stale' && existsSync(BUNDLE)) {
  const bundled = statSync(BUNDLE).mtimeMs;
  if (sourceFiles(SOURCE).every((file) => statSync(file).mtimeMs <= bundled)) process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'spec-bundle-'));
try {
  const fresh = join(work, 'openapi.bundled.yaml');
  bundleTo(fresh);
  if (mode === '--check') {
    if (!existsSync(BUNDLE) || readFileSync(BUNDLE, 'utf8') !== readFileSync(fresh, 'utf8')) {
      console.error('generated/openapi.bundled.yaml is not the bundle of openapi/: run npm run generate');
      process.exitCode = 1;
    }
  } else {
    writeFileSync(BUNDLE, readFileSync(fresh));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
