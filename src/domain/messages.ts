// The mail the service sends: a plain-text and an HTML part each. Addresses
// and links are escaped in the HTML; no password is ever in a message.
import type { OutgoingMail } from './ports.js';

export function resetMail(email: string, link: string, ttlSeconds: number): OutgoingMail {
  return {
    to: email,
    subject: 'Reset your password',
    ...paragraphs([
      `Someone asked to reset the password of the account for ${email}.`,
      { before: 'To choose a new password, ', link, label: 'open this link', after: ` within ${minutes(ttlSeconds)}.` },
      'If it was not you, ignore this message: your password stays as it is.',
    ]),
  };
}

export function verificationMail(email: string, link: string, ttlSeconds: number): OutgoingMail {
  return {
    to: email,
    subject: 'Confirm your email address',
    ...paragraphs([
      `Please confirm that ${email} is your email address.`,
      { before: 'To confirm it, ', link, label: 'open this link', after: ` within ${hoursOrMinutes(ttlSeconds)}.` },
      'If you did not sign up or change your email, ignore this message.',
    ]),
  };
}

export function emailChangedNotice(oldEmail: string, revertLink: string, ttlSeconds: number): OutgoingMail {
  return {
    to: oldEmail,
    subject: 'Your email address was changed',
    ...paragraphs([
      `The email address of your account was changed from ${oldEmail} to another address.`,
      'Mail about the account, such as password resets, now goes to the new address.',
      {
        before: 'If you did not make this change, ',
        link: revertLink,
        label: 'open this link',
        after: ` within ${days(ttlSeconds)} to put ${oldEmail} back and sign everyone out; then reset your password.`,
      },
    ]),
  };
}

/** A change to an account's second factor that its owner is told of. */
export type SecondFactorChange = 'removed' | 'reset_by_admin' | 'codes_regenerated' | 'recovery_code_used';

const SECOND_FACTOR_NOTICES: Record<SecondFactorChange, { subject: string; what: string; then: string }> = {
  removed: {
    subject: 'Two-step sign-in was turned off',
    what: 'Two-step sign-in (the authenticator app and its recovery codes) was turned off for the account for %s.',
    then: 'Signing in now needs only the password.',
  },
  reset_by_admin: {
    subject: 'Two-step sign-in was reset by an administrator',
    what: 'An administrator turned two-step sign-in off for the account for %s, and every session was ended.',
    then: 'Signing in now needs only the password; you can turn two-step sign-in on again.',
  },
  codes_regenerated: {
    subject: 'New recovery codes were made',
    what: 'New recovery codes were made for the account for %s.',
    then: 'The old recovery codes no longer work.',
  },
  recovery_code_used: {
    subject: 'A recovery code was used to sign in',
    what: 'One of the recovery codes of the account for %s was used to sign in.',
    then: 'It no longer works. If you have lost your authenticator app, make new recovery codes after you sign in.',
  },
};

export function secondFactorNotice(email: string, change: SecondFactorChange): OutgoingMail {
  const { subject, what, then } = SECOND_FACTOR_NOTICES[change];
  return {
    to: email,
    subject,
    ...paragraphs([
      what.replace('%s', email),
      then,
      'If it was not you, change your password at once and contact the support of the app you use.',
    ]),
  };
}

/** A paragraph of text, or one with a link in it. */
type Paragraph = string | { before: string; link: string; label: string; after: string };

function paragraphs(content: Paragraph[]): Pick<OutgoingMail, 'text' | 'html'> {
  const text = content.map((p) => (typeof p === 'string' ? p : `${p.before}${p.label}${p.after}\n${p.link}`));
  const html = content.map((p) =>
    typeof p === 'string'
      ? `<p>${escapeHtml(p)}</p>`
      : `<p>${escapeHtml(p.before)}<a href="${escapeHtml(p.link)}">${escapeHtml(p.label)}</a>${escapeHtml(p.after)}</p>`,
  );
  return { text: text.join('\n\n') + '\n', html: html.join('') };
}

function minutes(seconds: number): string {
  return `${Math.round(seconds / 60)} minutes`;
}

function days(seconds: number): string {
  return seconds >= 172_800 ? `${Math.round(seconds / 86_400)} days` : hoursOrMinutes(seconds);
}

function hoursOrMinutes(seconds: number): string {
  return seconds >= 7200 ? `${Math.round(seconds / 3600)} hours` : minutes(seconds);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
