// Text is compared and stored in one canonical form: NFKC folds look-alike
// compatibility characters (full-width letters and the like) into their plain
// form before anything validates or compares it.
export function normalizeText(value: string): string {
  return value.normalize('NFKC').trim();
}

export function canonicalEmail(email: string): string {
  return normalizeText(email).toLowerCase();
}

type ProfileText = { email: string; user_name: string; first_name: string; last_name: string };

/**
 * A profile typed by an operator (the CLI, ADMIN_* settings) in the form the
 * API stores: text fields trimmed and NFKC-normalized, as HTTP input is
 * before validation. The password is left as given.
 */
export function normalizeProfile<T extends ProfileText>(profile: T): T {
  return {
    ...profile,
    email: normalizeText(profile.email),
    user_name: normalizeText(profile.user_name),
    first_name: normalizeText(profile.first_name),
    last_name: normalizeText(profile.last_name),
  };
}
