// The second factor: an authenticator app (TOTP, RFC 6238) and recovery
// codes. Enrolling, removing and renewing them; completing a login the gate
// held back (sign-in-gate.ts); and renewing a session's proof of its user
// (recent authentication). Every code is single-use in one database step:
// a TOTP time step once per account (compare-and-set on the last used
// step), a recovery code once, a pending login once and for at most
// MAX_CODES_PER_CHALLENGE checks.
import { auditEntry } from './audit.js';
import { DomainError } from './errors.js';
import { secondFactorNotice, type SecondFactorChange } from './messages.js';
import { amrText, type AuthenticationMethod, type IssuedToken, type Principal, type RequestOrigin } from './model.js';
import { oneTimeTokenHash } from './one-time-tokens.js';
import type { PasswordHasher } from './passwords.js';
import type { Repositories, Store, TotpFactorRow } from './ports.js';
import { withPlaces, type RateLimitSettings } from './rate-limits.js';
import { newRecoveryCode, RECOVERY_CODE_COUNT, recoveryCodeHash } from './recovery-codes.js';
import type { RecentAuthentication } from './recent-authentication.js';
import type { Sealer } from './sealing.js';
import type { SessionService } from './sessions.js';
import { newTotpSecret, totpEnrollment, totpStepOf } from './totp.js';

/** How a wrong or used code is answered: 401 completing a login, 400 confirming a change. */
type CodeRefusal = 'wrong_second_factor' | 'wrong_code';

/** A pending login checks at most this many codes, then it is void. */
export const MAX_CODES_PER_CHALLENGE = 5;

/** A code from the app, or a recovery code (the spec's SecondFactorProof). */
export type SecondFactorProof =
  { code: string; recovery_code?: undefined } | { recovery_code: string; code?: undefined };

export interface SecondFactorSettings {
  /** The issuer authenticator apps show (MFA_ISSUER). */
  issuer: string;
  /** How long a session's proof of its user counts as recent. */
  recent: RecentAuthentication;
  limits: RateLimitSettings;
  now?: () => number;
}

export interface SecondFactorStatus {
  enabled: boolean;
  recoveryCodesLeft: number;
}

export class SecondFactorService {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionService,
    private readonly sealer: Sealer,
    private readonly settings: SecondFactorSettings,
  ) {
    this.now = settings.now ?? Date.now;
  }

  async status(userId: number): Promise<SecondFactorStatus> {
    if (!(await this.store.totpFactors.findConfirmed(userId))) return { enabled: false, recoveryCodesLeft: 0 };
    return { enabled: true, recoveryCodesLeft: await this.store.recoveryCodes.countUnused(userId) };
  }

  /** A new secret to add to an app; nothing is active until it is confirmed. */
  async startEnrollment(principal: Principal): Promise<{ secret: string; otpauthUri: string; qrSvg: string }> {
    const account = await this.store.users.findCredentialsById(principal.userId);
    if (!account) throw new DomainError('session_ended');
    const secret = newTotpSecret();
    const sealed = this.sealer.seal(String(principal.userId), Buffer.from(secret));
    if (!(await this.store.totpFactors.startEnrollment(principal.userId, sealed, this.now()))) {
      throw new DomainError('second_factor_active');
    }
    return { secret, ...(await totpEnrollment(secret, this.settings.issuer, account.email)) };
  }

  /**
   * Activates the enrolment with a code from the app (its time step used up
   * like any other), and answers the recovery codes. The account's other
   * sessions end; this one now counts both factors, proven now.
   */
  async confirmEnrollment(principal: Principal, code: string, origin: RequestOrigin): Promise<string[]> {
    const { userId } = principal;
    const factor = await this.store.totpFactors.find(userId);
    if (!factor || factor.confirmed_at !== null) throw new DomainError('no_enrollment');
    return this.withFailureCap(userId, origin, 'wrong_code', async () => {
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      await this.store.transaction(async (repositories) => {
        await this.useTotpStep(repositories, factor, code, 'unconfirmed', 'wrong_code');
        if (!(await repositories.totpFactors.confirm(userId, this.now()))) throw new DomainError('no_enrollment');
        await repositories.recoveryCodes.replace(userId, codes.map(recoveryCodeHash));
        await repositories.sessions.deleteOthersOfUser(userId, principal.sessionId);
        await repositories.sessions.renewAuthentication(principal.sessionId, this.now(), amrText(['pwd', 'otp']));
        await repositories.securityEvents.insert(auditEntry('second_factor_enabled', userId, origin));
      });
      return codes;
    });
  }

  /** Turns the second factor off, given a current code or a recovery code. */
  async remove(principal: Principal, proof: SecondFactorProof, origin: RequestOrigin): Promise<void> {
    await this.withProof(principal, proof, origin, async (repositories) => {
      await repositories.totpFactors.delete(principal.userId);
      await repositories.recoveryCodes.deleteAllOfUser(principal.userId);
      await repositories.securityEvents.insert(auditEntry('second_factor_removed', principal.userId, origin));
      await this.notify(repositories, principal.userId, 'removed');
    });
  }

  /** New recovery codes, the old ones void, given a current code or a recovery code. */
  async regenerateRecoveryCodes(
    principal: Principal,
    proof: SecondFactorProof,
    origin: RequestOrigin,
  ): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.withProof(principal, proof, origin, async (repositories) => {
      await repositories.recoveryCodes.replace(principal.userId, codes.map(recoveryCodeHash));
      await repositories.securityEvents.insert(auditEntry('recovery_codes_regenerated', principal.userId, origin));
      await this.notify(repositories, principal.userId, 'codes_regenerated');
    });
    return codes;
  }

  /**
   * Completes a login the gate held back. The token's check is taken first,
   * in one step (at most MAX_CODES_PER_CHALLENGE, however many arrive at
   * once), then a place in the account's limit of wrong codes; a right code
   * gives the place back, and uses up its time step (or recovery code) and
   * the token in one transaction with the new session.
   */
  async completeLogin(mfaToken: string, proof: SecondFactorProof, origin: RequestOrigin): Promise<IssuedToken> {
    const tokenHash = oneTimeTokenHash(mfaToken);
    const challenge = await this.store.mfaChallenges.takeAttempt(tokenHash, this.now(), MAX_CODES_PER_CHALLENGE);
    if (!challenge) throw new DomainError('invalid_mfa_token');
    const userId = challenge.user_id;
    const account = await this.store.users.findCredentialsById(userId);
    if (!account) throw new DomainError('invalid_mfa_token');
    if (account.disabled_at !== null) throw new DomainError('account_disabled');
    if (account.credential_generation !== challenge.credential_generation) throw new DomainError('invalid_mfa_token');
    const factor = await this.store.totpFactors.findConfirmed(userId);
    if (!factor) throw new DomainError('invalid_mfa_token');
    return this.withFailureCap(userId, origin, 'wrong_second_factor', () =>
      this.store.transaction(async (repositories) => {
        await this.prove(repositories, factor, proof, origin, 'wrong_second_factor');
        const token = await this.sessions.gate.complete(repositories, challenge, 'otp', origin).catch((error) => {
          // The password changed or the account was disabled since: the pending login is void.
          throw error instanceof DomainError && error.kind === 'invalid_credentials'
            ? new DomainError('invalid_mfa_token')
            : error;
        });
        if (!token) throw new DomainError('invalid_mfa_token'); // a parallel completion used it
        await repositories.securityEvents.insert(auditEntry('login_success', userId, origin));
        return token;
      }),
    );
  }

  /**
   * Renews the session's proof of its user: the password, and a code when a
   * second factor is active. Wrong tries count in the per-account limit of
   * password changes; the try takes its turn in the hashing first.
   */
  async reauthenticate(
    principal: Principal,
    password: string,
    proof: { code?: string; recovery_code?: string },
    origin: RequestOrigin,
  ): Promise<{ authenticatedAt: Date; recentUntil: Date }> {
    const { userId } = principal;
    const turn = this.hasher.takeTurn(origin.address);
    try {
      return await withPlaces(
        this.store.rateLimits,
        [[this.settings.limits.passwordChangeFailuresPerUser, String(userId)]],
        this.now(),
        async () => {
          const credentials = await this.store.users.findCredentialsById(userId);
          if (!credentials) throw new DomainError('session_ended');
          if (!(await turn.verify(credentials.password_hash, password)).matches) {
            await this.store.securityEvents.insert(auditEntry('reauthentication_failure', userId, origin));
            throw new DomainError('wrong_password');
          }
          const factor = await this.store.totpFactors.findConfirmed(userId);
          const at = this.now();
          await this.store
            .transaction(async (repositories) => {
              const amr: AuthenticationMethod[] = ['pwd'];
              if (factor) {
                if (proof.code === undefined && proof.recovery_code === undefined) throw new DomainError('wrong_code');
                await this.prove(repositories, factor, proof as SecondFactorProof, origin, 'wrong_code');
                amr.push('otp');
              }
              if (!(await repositories.sessions.renewAuthentication(principal.sessionId, at, amrText(amr)))) {
                throw new DomainError('session_ended');
              }
              await repositories.securityEvents.insert(auditEntry('reauthenticated', userId, origin));
            })
            .catch(async (error: unknown) => {
              if (error instanceof DomainError && error.kind === 'wrong_code') {
                await this.store.securityEvents.insert(auditEntry('reauthentication_failure', userId, origin));
              }
              throw error;
            });
          return {
            authenticatedAt: new Date(at),
            recentUntil: this.settings.recent.recentUntil(at),
          };
        },
        (error) => error instanceof DomainError && (error.kind === 'wrong_password' || error.kind === 'wrong_code'),
      );
    } finally {
      turn.leave();
    }
  }

  /** Runs `change` in a transaction after the proof is accepted (and used up) in it. */
  private async withProof(
    principal: Principal,
    proof: SecondFactorProof,
    origin: RequestOrigin,
    change: (repositories: Repositories) => Promise<void>,
  ): Promise<void> {
    const factor = await this.store.totpFactors.findConfirmed(principal.userId);
    if (!factor) throw new DomainError('no_second_factor');
    await this.withFailureCap(principal.userId, origin, 'wrong_code', () =>
      this.store.transaction(async (repositories) => {
        await this.prove(repositories, factor, proof, origin, 'wrong_code');
        await change(repositories);
      }),
    );
  }

  /**
   * Accepts the proof in the transaction, a write first: the code's time step
   * or the recovery code used up in one step. Throws `refusal` otherwise.
   */
  private async prove(
    repositories: Repositories,
    factor: TotpFactorRow,
    proof: SecondFactorProof,
    origin: RequestOrigin,
    refusal: CodeRefusal,
  ): Promise<void> {
    const userId = factor.user_id;
    if (proof.recovery_code !== undefined) {
      if (!(await repositories.recoveryCodes.use(userId, recoveryCodeHash(proof.recovery_code), this.now()))) {
        throw new DomainError(refusal);
      }
      await repositories.securityEvents.insert(auditEntry('recovery_code_used', userId, origin));
      await this.notify(repositories, userId, 'recovery_code_used');
      return;
    }
    await this.useTotpStep(repositories, factor, proof.code, 'confirmed', refusal);
  }

  /** Uses up the code's time step for the factor in one statement (the step once per account), or throws `refusal`. */
  private async useTotpStep(
    repositories: Repositories,
    factor: TotpFactorRow,
    code: string,
    state: 'confirmed' | 'unconfirmed',
    refusal: CodeRefusal,
  ): Promise<void> {
    const step = totpStepOf(this.secretOf(factor), code, this.now());
    if (step === undefined || !(await repositories.totpFactors.useStep(factor.user_id, step, state))) {
      throw new DomainError(refusal);
    }
  }

  /**
   * A place in the account's limit of wrong codes for the work, kept when it
   * fails with a wrong code (which is audited), given back otherwise.
   */
  private withFailureCap<T>(
    userId: number,
    origin: RequestOrigin,
    refusal: CodeRefusal,
    work: () => Promise<T>,
  ): Promise<T> {
    return withPlaces(
      this.store.rateLimits,
      [[this.settings.limits.mfaFailuresPerUser, String(userId)]],
      this.now(),
      () =>
        work().catch(async (error: unknown) => {
          if (error instanceof DomainError && error.kind === refusal) {
            await this.store.securityEvents.insert(auditEntry('second_factor_failure', userId, origin));
          }
          throw error;
        }),
      (error) => error instanceof DomainError && error.kind === refusal,
    );
  }

  /**
   * Tells the account's owner, in the change's transaction (no change, no
   * mail). Outside the per-recipient mail cap: each of these takes a fresh
   * code, a recovery code (ten at most) or an admin, so none can be repeated
   * at will, and a cap could silence the one that matters.
   */
  private async notify(repositories: Repositories, userId: number, change: SecondFactorChange): Promise<void> {
    const account = await repositories.users.findCredentialsById(userId);
    if (account) await repositories.outbox.enqueue(secondFactorNotice(account.email, change), this.now());
  }

  private secretOf(factor: TotpFactorRow): string {
    const opened = this.sealer.open(String(factor.user_id), factor.secret);
    if (!opened) throw new Error('the TOTP secret does not open with this secret: was SIGNING_KEYS_SECRET changed?');
    return opened.toString();
  }
}
