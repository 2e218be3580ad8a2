// The mail transport: nodemailer over SMTP, to the server SMTP_URL names
// (smtp:// or smtps://, credentials in the URL).
import nodemailer from 'nodemailer';
import type { MailTransport } from '../domain/mail.js';

export function smtpTransport(url: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(url);
  return {
    async send(mail, signal) {
      // Aborting ends the connection, so the deadline bounds the whole
      // exchange, not just each silence (nodemailer waits 10 minutes of it).
      await transporter.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        signal,
      });
    },
    close: () => transporter.close(),
  };
}

/** Where mail goes, for the start-up line: the SMTP server without its credentials. */
export function describeMailDestination(url: string | undefined): string {
  if (url === undefined) return 'mail kept in the database outbox (npm run cli -- outbox)';
  try {
    const parsed = new URL(url);
    return `mail sent through ${parsed.protocol}//${parsed.hostname}:${parsed.port || (parsed.protocol === 'smtps:' ? '465' : '587')}`;
  } catch {
    return 'mail sent through SMTP';
  }
}
