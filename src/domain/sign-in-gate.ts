// The one gate every way into an account passes. A sign-in method (a
// password today; passkeys and outside providers next) proves some factors
// and hands the account to `SignInGate.signIn`, which opens a session only
// when nothing more is owed: an account with a second factor gets a
// challenge instead, completed through `complete` with the missing factor.
// No way in opens a session itself. The session's insert is the last check
// of all: it writes nothing for a disabled account or one whose password
// changed since the method read it.
import { newOneTimeToken } from './one-time-tokens.js';
import {
  amrOf,
  amrText,
  type Authentication,
  type AuthenticationMethod,
  type IssuedToken,
  type RequestOrigin,
} from './model.js';
import type { MfaChallengeRow, Repositories } from './ports.js';

/** How a pending login may be completed (the spec's MfaMethod). */
export type SecondFactorMethod = 'totp' | 'recovery_code';

export interface SecondFactorChallenge {
  /** Opaque, 256 bits; only its hash is stored. */
  mfaToken: string;
  methods: SecondFactorMethod[];
  expiresAt: Date;
}

export type SignIn =
  { kind: 'session'; token: IssuedToken } | { kind: 'second_factor'; challenge: SecondFactorChallenge };

/** An account whose first factor a sign-in method has just proven, as its credentials were when read. */
export interface ProvenAccount {
  id: number;
  generation: number;
}

/** What the gate needs of the sessions: opening one, in the caller's transaction. */
export interface SessionOpener {
  open(
    repositories: Repositories,
    userId: number,
    generation: number,
    origin: RequestOrigin,
    authentication: Authentication,
  ): Promise<IssuedToken>;
}

/** The methods that count as a second factor. */
const SECOND_FACTORS: ReadonlySet<AuthenticationMethod> = new Set(['otp']);

export class SignInGate {
  constructor(
    private readonly sessions: SessionOpener,
    private readonly settings: { challengeTtlSeconds: number; now: () => number },
  ) {}

  /**
   * A session for the account, or, when it has a second factor that `amr`
   * lacks, a challenge for it. Runs in the caller's transaction.
   */
  async signIn(
    repositories: Repositories,
    account: ProvenAccount,
    amr: AuthenticationMethod[],
    origin: RequestOrigin,
  ): Promise<SignIn> {
    const owed = amr.some((method) => SECOND_FACTORS.has(method))
      ? []
      : await this.secondFactorMethods(repositories, account.id);
    if (owed.length === 0) {
      const token = await this.sessions.open(repositories, account.id, account.generation, origin, {
        amr,
        at: this.settings.now(),
      });
      return { kind: 'session', token };
    }
    const { token: mfaToken, hash } = newOneTimeToken();
    const expiresAt = this.settings.now() + this.settings.challengeTtlSeconds * 1000;
    await repositories.mfaChallenges.insert({
      token_hash: hash,
      user_id: account.id,
      credential_generation: account.generation,
      amr: amrText(amr),
      expires_at: expiresAt,
    });
    return { kind: 'second_factor', challenge: { mfaToken, methods: owed, expiresAt: new Date(expiresAt) } };
  }

  /**
   * Completes a pending login whose missing factor the caller has just
   * proven (`proven`), in the same transaction: the challenge is used up in
   * one step, so of two completions racing with one token one opens a
   * session. Undefined when the challenge was used meanwhile.
   */
  async complete(
    repositories: Repositories,
    challenge: MfaChallengeRow,
    proven: AuthenticationMethod,
    origin: RequestOrigin,
  ): Promise<IssuedToken | undefined> {
    if (!(await repositories.mfaChallenges.consume(challenge.token_hash, this.settings.now()))) return undefined;
    const amr = [...new Set([...amrOf(challenge.amr), proven])];
    return this.sessions.open(repositories, challenge.user_id, challenge.credential_generation, origin, {
      amr,
      at: this.settings.now(),
    });
  }

  /** The second-factor methods the account has; none when it has no confirmed factor. */
  async secondFactorMethods(repositories: Repositories, userId: number): Promise<SecondFactorMethod[]> {
    if (!(await repositories.totpFactors.findConfirmed(userId))) return [];
    const codesLeft = await repositories.recoveryCodes.countUnused(userId);
    return codesLeft > 0 ? ['totp', 'recovery_code'] : ['totp'];
  }
}
