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

export function emailChangedNotice(oldEmail: string): OutgoingMail {
  return {
    to: oldEmail,
    subject: 'Your email address was changed',
    ...paragraphs([
      `The email address of your account was changed from ${oldEmail} to another address.`,
      'Mail about the account, such as password resets, now goes to the new address.',
      'If you did not make this change, contact the support of the app you use at once.',
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

function hoursOrMinutes(seconds: number): string {
  return seconds >= 7200 ? `${Math.round(seconds / 3600)} hours` : minutes(seconds);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
