import type { SecondFactorService } from '../../domain/second-factor.js';
import type { SignIn } from '../../domain/sign-in-gate.js';
import type { OperationHandlers } from '../contract.js';
import { loginResult, NO_STORE, signedIn } from './replies.js';

type SecondFactorOperations =
  | 'completeLogin'
  | 'startTotpEnrollment'
  | 'confirmTotpEnrollment'
  | 'removeTotp'
  | 'regenerateRecoveryCodes'
  | 'reauthenticate';

export function secondFactorHandlers(
  secondFactor: SecondFactorService,
): Pick<OperationHandlers, SecondFactorOperations> {
  return {
    async completeLogin({ body, origin }) {
      const token = await secondFactor.completeLogin(body.mfa_token, proofOf(body), origin);
      return { status: 200, body: loginResult(token), headers: NO_STORE };
    },

    async startTotpEnrollment({ principal }) {
      const { secret, otpauthUri, qrSvg } = await secondFactor.startEnrollment(signedIn(principal));
      return { status: 200, body: { secret, otpauth_uri: otpauthUri, qr_svg: qrSvg }, headers: NO_STORE };
    },

    async confirmTotpEnrollment({ body, principal, origin }) {
      const codes = await secondFactor.confirmEnrollment(signedIn(principal), body.code, origin);
      return { status: 200, body: { recovery_codes: codes }, headers: NO_STORE };
    },

    async removeTotp({ body, principal, origin }) {
      await secondFactor.remove(signedIn(principal), proofOf(body), origin);
      return { status: 200, body: { message: 'Second factor removed' } };
    },

    async regenerateRecoveryCodes({ body, principal, origin }) {
      const codes = await secondFactor.regenerateRecoveryCodes(signedIn(principal), proofOf(body), origin);
      return { status: 200, body: { recovery_codes: codes }, headers: NO_STORE };
    },

    async reauthenticate({ body, principal, origin }) {
      const { authenticatedAt, recentUntil } = await secondFactor.reauthenticate(
        signedIn(principal),
        body.password,
        { code: body.code, recovery_code: body.recovery_code },
        origin,
      );
      return {
        status: 200,
        body: { authenticated_at: authenticatedAt.toISOString(), recent_until: recentUntil.toISOString() },
      };
    },
  };
}

/** The schema's oneOf has let exactly one of the two through. */
function proofOf(body: { code?: string; recovery_code?: string }) {
  return body.code !== undefined ? { code: body.code } : { recovery_code: body.recovery_code! };
}

/** A login's answer: a session (200), or the second factor it still needs (202). */
export function signInReply(signIn: SignIn) {
  if (signIn.kind === 'session') return { status: 200 as const, body: loginResult(signIn.token), headers: NO_STORE };
  const { mfaToken, methods, expiresAt } = signIn.challenge;
  return {
    status: 202 as const,
    body: { mfa_required: true as const, mfa_token: mfaToken, methods, expires_at: expiresAt.toISOString() },
    headers: NO_STORE,
  };
}
