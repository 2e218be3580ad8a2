// Text is compared and stored in one canonical form: NFKC folds look-alike
// compatibility characters (full-width letters and the like) into their plain
// form before anything validates or compares it.
export function normalizeText(value: string): string {
  return value.normalize('NFKC').trim();
}

export function canonicalEmail(email: string): string {
  return normalizeText(email).toLowerCase();
}
