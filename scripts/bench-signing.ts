// npm run bench:signing: what signing and checking one access token costs with
// each algorithm the service could use, in this process, on this machine.
// jsonwebtoken (the service's JWT library) does HS256 and ES256 but not EdDSA,
// so Ed25519 is measured with node:crypto alone (a lower bound for any
// library) and with jose. Prints medians of 5 runs and writes them to
// bench/results/signing-*.{json,md}. Numbers, not assertions.
import jwt from 'jsonwebtoken';
import * as jose from 'jose';
import { createSecretKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const RUNS = 5;

async function medianMicros(work: () => unknown): Promise<number> {
  for (let i = 0; i < CALLS / 10; i++) await work();
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) await work();
    runs.push(Number(process.hrtime.bigint() - started) / CALLS / 1000);
  }
  return runs.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

const claims = {
  sub: '42',
  jti: '9f8e41c6-3f67-4d04-a5b3-7f6e19b14b70',
  iss: 'user-service',
  aud: 'user-service',
  exp: Math.floor(Date.now() / 1000) + 900,
};
const secret = createSecretKey(Buffer.alloc(48, 7));
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed25519 = generateKeyPairSync('ed25519');
const hs256Token = jwt.sign(claims, secret, { algorithm: 'HS256' });
const es256Token = jwt.sign(claims, p256.privateKey, { algorithm: 'ES256', keyid: 'k' });
const signingInput = Buffer.from(es256Token.split('.').slice(0, 2).join('.'));
const ed25519Signature = sign(null, signingInput, ed25519.privateKey);
const eddsaToken = await new jose.SignJWT(claims)
  .setProtectedHeader({ alg: 'EdDSA', kid: 'k' })
  .sign(ed25519.privateKey);

const rows: { algorithm: string; library: string; signMicros: number; verifyMicros: number }[] = [];
const measure = async (algorithm: string, library: string, signOne: () => unknown, verifyOne: () => unknown) => {
  rows.push({
    algorithm,
    library,
    signMicros: await medianMicros(signOne),
    verifyMicros: await medianMicros(verifyOne),
  });
};
await measure(
  'HS256',
  'jsonwebtoken',
  () => jwt.sign(claims, secret, { algorithm: 'HS256' }),
  () => jwt.verify(hs256Token, secret, { algorithms: ['HS256'], complete: true }),
);
await measure(
  'ES256',
  'jsonwebtoken',
  () => jwt.sign(claims, p256.privateKey, { algorithm: 'ES256', keyid: 'k' }),
  () => jwt.verify(es256Token, p256.publicKey, { algorithms: ['ES256'], complete: true }),
);
await measure(
  'EdDSA (Ed25519)',
  'node:crypto, signature only',
  () => sign(null, signingInput, ed25519.privateKey),
  () => verify(null, signingInput, ed25519.publicKey, ed25519Signature),
);
await measure(
  'EdDSA (Ed25519)',
  'jose',
  () => new jose.SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: 'k' }).sign(ed25519.privateKey),
  () => jose.jwtVerify(eddsaToken, ed25519.publicKey, { algorithms: ['EdDSA'] }),
);

const when = new Date().toISOString();
const markdown = [
  `Signing and checking one access token, ${process.version}, median of ${RUNS} runs of ${CALLS.toLocaleString('en')} calls (${when})`,
  '',
  '| algorithm | library | sign µs | verify µs |',
  '|---|---|---:|---:|',
  ...rows.map(
    (row) => `| ${row.algorithm} | ${row.library} | ${row.signMicros.toFixed(1)} | ${row.verifyMicros.toFixed(1)} |`,
  ),
].join('\n');
console.log(markdown);
const folder = join(ROOT, 'bench', 'results');
mkdirSync(folder, { recursive: true });
const file = `signing-${when.replace(/[:.]/g, '-')}`;
writeFileSync(
  join(folder, `${file}.json`),
  JSON.stringify({ when, node: process.version, cores: cpus().length, rows }, null, 2),
);
writeFileSync(join(folder, `${file}.md`), markdown + '\n');
console.log(`Written to bench/results/${file}.{json,md}`);
