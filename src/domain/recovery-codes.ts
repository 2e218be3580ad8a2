// Recovery codes: 120 random bits each, so a SHA-256 of the code is enough
// at rest (ASVS 5.0 6.5.2: at least 112 bits with an approved hash), looked
// up by index in one step and costing no password hashing. Written for people:
// Crockford's base32 (no I, L, O or U), six groups of four.
import { createHash, randomBytes } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 24; // 24 × 5 bits = 120 bits
const GROUP = 4;

/** A new code, as shown: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX. */
export function newRecoveryCode(): string {
  const bytes = randomBytes(15); // 120 bits, read 5 at a time
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let code = '';
  for (let i = CODE_LENGTH - 1; i >= 0; i -= 1) code += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return code.match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-');
}

/**
 * The code as stored, hashed: case, spaces and dashes don't matter, and the
 * letters people mistake for digits are read as Crockford reads them.
 */
export function recoveryCodeHash(code: string): string {
  const canonical = code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return createHash('sha256').update(canonical).digest('hex');
}
