// Another service, as the README tells one to verify our tokens: it knows only
// the JWKS URL (and the issuer and audience it expects), and checks tokens with
// jose's remote key set, caching the keys as long as the JWKS's Cache-Control
// allows. Reads one token per line on standard input and answers one JSON line
// each: {"valid":true,"sub":"7"} or {"valid":false,"code":"ERR_..."}.
//   node --import tsx test/support/jwks-verifier.ts JWKS_URL ISSUER AUDIENCE MAX_AGE_SECONDS
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createInterface } from 'node:readline';

const [jwksUrl, issuer, audience, maxAgeSeconds] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: Number(maxAgeSeconds) * 1000 });

for await (const token of createInterface({ input: process.stdin })) {
  try {
    const { payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['ES256'] });
    console.log(JSON.stringify({ valid: true, sub: payload.sub }));
  } catch (error) {
    console.log(JSON.stringify({ valid: false, code: (error as { code?: string }).code ?? String(error) }));
  }
}
