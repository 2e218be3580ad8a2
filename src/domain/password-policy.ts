// What a new password must be (NIST SP 800-63B, 5.1.1.2): 8 to 128
// characters counted after NFKC normalization, and not one of the passwords
// people use most. The list is zxcvbn-ts's (@zxcvbn-ts/language-common):
// about 49,000 passwords ranked by how often they appear in breach corpora,
// maintained with the most-used strength estimator for JavaScript; of those,
// the ~18,000 that are long enough to pass the length rule are refused.
// Compared case-blind, so "Password1" is as common as "password1".
import { dictionary } from '@zxcvbn-ts/language-common';
import { DomainError } from './errors.js';

export const PASSWORD_LENGTH = { min: 8, max: 128 } as const;

/**
 * The form a password is hashed and checked in: NFKC folds the different
 * ways of typing one character (composed or decomposed accents, full-width
 * forms) into one, so the same password typed on another device still
 * matches. Spaces are kept; nothing is trimmed.
 */
export function canonicalPassword(password: string): string {
  return password.normalize('NFKC');
}

let commonPasswords: Set<string> | undefined;

function isCommon(password: string): boolean {
  commonPasswords ??= new Set(
    dictionary['passwords-common'].filter((common) => [...common].length >= PASSWORD_LENGTH.min),
  );
  return commonPasswords.has(password.toLowerCase());
}

/** Throws DomainError('password_refused') unless `password` may become an account's password. */
export function checkNewPassword(password: string, field = 'password'): void {
  const canonical = canonicalPassword(password);
  const length = [...canonical].length;
  if (length < PASSWORD_LENGTH.min || length > PASSWORD_LENGTH.max) {
    throw new DomainError('password_refused', {
      field,
      message: `must be ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max} characters`,
    });
  }
  if (isCommon(canonical))
    throw new DomainError('password_refused', { field, message: 'is one of the most common passwords' });
}
