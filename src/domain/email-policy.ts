// What an address must be for the service to send mail to it: nothing a relay
// on the way could read as routing, since `format: email` accepts it all.
// - RFC 2047 encoded words (`=?utf-8?q?…?=`): a relay that decodes them can
//   find another address inside (`attacker@evil.com>`);
// - `%` (the "percent hack") and `!` (UUCP bang paths): some relays still
//   pass `a%evil.com@example.com` and `evil.com!a@example.com` on to the
//   other host;
// - a local part longer than the 64 octets RFC 5321 (4.5.3.1.1) allows,
//   which relays may cut or treat each their own way.
import { DomainError } from './errors.js';

export const LOCAL_PART_MAX_OCTETS = 64;

const ROUTING = /=\?|[%!]/;

/** Throws DomainError('email_refused') unless mail may be sent to `email`. */
export function checkMailableEmail(email: string, field = 'email'): void {
  const localPart = email.slice(0, Math.max(email.lastIndexOf('@'), 0));
  if (ROUTING.test(localPart)) {
    throw new DomainError('email_refused', { field, message: 'must not hold "=?", "%" or "!" before the @' });
  }
  if (new TextEncoder().encode(localPart).length > LOCAL_PART_MAX_OCTETS) {
    throw new DomainError('email_refused', {
      field,
      message: `must have at most ${LOCAL_PART_MAX_OCTETS} characters before the @`,
    });
  }
}
