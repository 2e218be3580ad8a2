// An authenticator app for tests: codes for a secret, at the step asked for.
import { totpCodeAt } from '../../src/domain/totp.js';

const STEP_MS = 30_000;

/** The code `offset` steps from now (−1, 0 or +1 are accepted). */
export function codeFor(secret: string, offset = 0): string {
  return totpCodeAt(secret, Date.now() + offset * STEP_MS);
}

/**
 * Waits until the current 30-second step has at least `marginMs` left, so
 * codes computed now belong to the same steps when the server checks them.
 */
export async function awayFromStepBoundary(marginMs = 3000): Promise<void> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
