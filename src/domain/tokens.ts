// Signs and checks access tokens: ES256 with the key ring's keys (the
// default), or HS256 with JWT_SECRET. The one algorithm in use is pinned on
// verify, so `alg: none` and RS/HS confusion are refused. Keys are KeyObjects:
// jsonwebtoken re-imports a string key on every call, which measured some 40
// times slower here.
//
// A signature check costs 73 µs with ES256 against 8 µs with HS256
// (`npm run bench:signing`), and a client sends the same token with every
// request until it expires, so a token whose signature checked out is
// remembered (by its exact text) until its exp: later requests skip the
// signature, never the session lookup that makes logout immediate. A
// retired key's tokens are refused from the cache too.
//
// A token has one spelling: each part in canonical base64url (no stray bits
// in its last character) and, for ES256, the low-s form of its signature
// (s and n - s both verify), which is the form signed here. Otherwise one
// token could be sent as 32 strings, each a new entry in caches and logs.
import jwt from 'jsonwebtoken';
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { KeyRing } from './signing-keys.js';

export interface TokenClaims {
  userId: number;
  sessionId: string;
}

/** What a token says besides who: how and when its session's user signed in (`amr`, `auth_time`). */
export interface SignedAuthentication {
  amr: string[];
  authTimeSeconds: number;
}

/** Who issues the tokens and for whom: set in every token and required on verify. */
export interface TokenScope {
  issuer: string;
  audience: string;
}

/** Where the keys come from: the key ring (ES256), or one shared secret (HS256). */
export interface TokenKeys {
  readonly algorithm: 'ES256' | 'HS256';
  signingKey(): { kid?: string; key: KeyObject };
  /** The key for a token naming `kid` (none for HS256), if its tokens are accepted. */
  verificationKey(kid: string | undefined): Promise<KeyObject | undefined>;
  /** Whether tokens of this key are still accepted (a retired key's are not). */
  accepts(kid: string | undefined): boolean;
}

/** HS256 with JWT_SECRET: tokens carry no kid. */
export function sharedSecretKeys(secret: string): TokenKeys {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    algorithm: 'HS256',
    signingKey: () => ({ key }),
    verificationKey: (kid) => Promise.resolve(kid === undefined ? key : undefined),
    accepts: () => true,
  };
}

/** ES256 with the database's keys. A kid this instance hasn't seen makes it re-read them (at most once a second). */
export function keyRingKeys(ring: KeyRing): TokenKeys {
  return {
    algorithm: 'ES256',
    signingKey: () => ring.signingKey(),
    async verificationKey(kid) {
      if (kid === undefined) return undefined;
      if (!ring.knows(kid)) await ring.loadIfStale();
      return ring.verificationKey(kid);
    },
    accepts: (kid) => kid !== undefined && ring.accepts(kid),
  };
}

interface CheckedToken {
  claims: TokenClaims;
  expiresAtSeconds: number;
  kid: string | undefined;
}

const CHECKED_TOKENS_KEPT = 10_000;

export class TokenSigner {
  private readonly checked = new Map<string, CheckedToken>();

  constructor(
    private readonly keys: TokenKeys,
    private readonly scope: TokenScope,
    private readonly now: () => number = Date.now,
  ) {}

  get algorithm(): TokenKeys['algorithm'] {
    return this.keys.algorithm;
  }

  /** A token for the session, expiring at `expiresAtSeconds` (Unix seconds). */
  sign(claims: TokenClaims, expiresAtSeconds: number, authentication: SignedAuthentication): string {
    const { kid, key } = this.keys.signingKey();
    const payload = { exp: expiresAtSeconds, auth_time: authentication.authTimeSeconds, amr: authentication.amr };
    const token = jwt.sign(payload, key, {
      algorithm: this.keys.algorithm,
      ...(kid === undefined ? {} : { keyid: kid }),
      issuer: this.scope.issuer,
      audience: this.scope.audience,
      subject: String(claims.userId),
      jwtid: claims.sessionId,
    });
    return this.keys.algorithm === 'ES256' ? withLowS(token) : token;
  }

  /** The claims of a well-signed, unexpired token of an accepted key; undefined for anything else. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const known = this.checked.get(token);
    if (known) {
      if (known.expiresAtSeconds > nowSeconds && this.keys.accepts(known.kid)) return known.claims;
      this.checked.delete(token);
      return undefined;
    }
    const checked = await this.check(token);
    if (!checked) return undefined;
    if (this.checked.size >= CHECKED_TOKENS_KEPT) this.checked.delete(this.checked.keys().next().value!);
    this.checked.set(token, checked);
    return checked.claims;
  }

  private async check(token: string): Promise<CheckedToken | undefined> {
    if (!hasOneSpelling(token, this.keys.algorithm)) return undefined;
    const header = headerOf(token);
    if (!header || header.alg !== this.keys.algorithm) return undefined;
    // jsonwebtoken ignores `crit`; a token demanding extensions we don't know is refused (RFC 7515).
    if ('crit' in header) return undefined;
    if (header.kid !== undefined && typeof header.kid !== 'string') return undefined;
    const key = await this.keys.verificationKey(header.kid);
    if (!key) return undefined;
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        algorithms: [this.keys.algorithm],
        issuer: this.scope.issuer,
        audience: this.scope.audience,
        clockTimestamp: Math.floor(this.now() / 1000),
      });
    } catch {
      return undefined;
    }
    if (typeof payload === 'string' || typeof payload.exp !== 'number') return undefined;
    const { sub, jti, exp } = payload;
    if (typeof sub !== 'string' || !/^[1-9]\d{0,9}$/.test(sub)) return undefined;
    if (typeof jti !== 'string' || jti.length === 0) return undefined;
    return { claims: { userId: Number(sub), sessionId: jti }, expiresAtSeconds: exp, kid: header.kid };
  }
}

/** The token's JOSE header, if it is a JSON object. */
function headerOf(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// The order of P-256's group: s and n - s are both valid signatures.
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function signatureS(signature: Buffer): bigint {
  return BigInt(`0x${signature.subarray(32).toString('hex')}`);
}

/** The token with its ES256 signature (r || s, 64 bytes) in the low-s form. */
export function withLowS(token: string): string {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const s = signatureS(signature);
  if (s <= P256_ORDER / 2n) return token;
  const lowS = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return `${token.slice(0, dot + 1)}${Buffer.concat([signature.subarray(0, 32), lowS]).toString('base64url')}`;
}

/** Three parts, each canonical base64url, and for ES256 a 64-byte low-s signature. */
function hasOneSpelling(token: string, algorithm: TokenKeys['algorithm']): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => Buffer.from(part, 'base64url').toString('base64url') === part)) {
    return false;
  }
  if (algorithm !== 'ES256') return true;
  const signature = Buffer.from(parts[2], 'base64url');
  return signature.length === 64 && signatureS(signature) <= P256_ORDER / 2n;
}
