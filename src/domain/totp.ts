// RFC 6238 codes, through otpauth (a maintained library, not hand-written
// HMAC), and the QR code an authenticator app scans, through qrcode.
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

const PERIOD_SECONDS = 30;
const TOTP_PARAMETERS = { algorithm: 'SHA1', digits: 6, period: PERIOD_SECONDS } as const;

/** A new 160-bit secret (RFC 4226's recommended size), in base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** What an authenticator app needs to add the account: the `otpauth://` URI and it drawn as an SVG QR code. */
export async function totpEnrollment(
  secret: string,
  issuer: string,
  accountName: string,
): Promise<{ otpauthUri: string; qrSvg: string }> {
  const totp = new TOTP({ ...TOTP_PARAMETERS, issuer, label: accountName, secret: Secret.fromBase32(secret) });
  const otpauthUri = totp.toString();
  const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { otpauthUri, qrSvg: qrSvg.trim() };
}

/**
 * The time step a code belongs to, if it is the code of the step at `nowMs`
 * or of one step either side (clock drift), newest first; undefined if none.
 * Whether that step was used already is the caller's to settle, atomically.
 */
export function totpStepOf(secret: string, code: string, nowMs: number): number | undefined {
  const totp = new TOTP({ ...TOTP_PARAMETERS, secret: Secret.fromBase32(secret) });
  const step = Math.floor(nowMs / 1000 / PERIOD_SECONDS);
  for (const delta of [1, 0, -1]) {
    if (totp.generate({ timestamp: (step + delta) * PERIOD_SECONDS * 1000 }) === code) return step + delta;
  }
  return undefined;
}

/** The code of the step at `nowMs`: for tests and the CLI's checks, as an app would show it. */
export function totpCodeAt(secret: string, nowMs: number): string {
  return new TOTP({ ...TOTP_PARAMETERS, secret: Secret.fromBase32(secret) }).generate({ timestamp: nowMs });
}
