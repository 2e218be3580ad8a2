// A real SMTP server on loopback for the tests (smtp-server): it accepts every
// message and keeps it, raw, with its envelope recipients; as told, it answers
// slowly or never, or refuses some recipients.
import { SMTPServer } from 'smtp-server';

export interface Received {
  to: string[];
  raw: string;
}

export interface SmtpServerOptions {
  /** How long the server waits before it answers a message's data: a slow relay. */
  answerDelayMs?: number;
  /** The server never answers a message's data (until it is closed): a relay that hangs. */
  neverAnswer?: boolean;
  /** Refuses these recipients at RCPT TO with 550, naming the address as real servers do. */
  rejectRecipients?: string[];
}

/** An SMTP server on loopback that keeps every message it accepts. */
export async function startSmtpServer(port = 0, options: SmtpServerOptions = {}) {
  const received: Received[] = [];
  /** Messages whose data has arrived, answered or not yet. */
  const dataArrived: string[][] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, session, callback) {
      if (!options.rejectRecipients?.includes(address.address)) return callback();
      const refusal = Object.assign(
        new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in local recipient table`),
        { responseCode: 550 },
      );
      callback(refusal);
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        dataArrived.push(to);
        if (options.neverAnswer) return;
        setTimeout(() => {
          received.push({ to, raw });
          callback();
        }, options.answerDelayMs ?? 0);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.server.address() as { port: number };
  return {
    port: address.port,
    received,
    dataArrived,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The mail's text as written: quoted-printable soft line breaks unfolded and =XX decoded. */
export function decodedText(mail: Received): string {
  return mail.raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The subjects of the service's messages (src/domain/messages.ts). */
export const SUBJECTS = {
  reset: 'Reset your password',
  verification: 'Confirm your email address',
  emailChanged: 'Your email address was changed',
} as const;

export function subjectOf(mail: Received): string | undefined {
  return /^Subject: (.*)$/m.exec(mail.raw)?.[1];
}

/** The messages to `email` with this subject, in the order they arrived. */
export function mailsTo(received: Received[], email: string, subject: string): Received[] {
  return received.filter((mail) => mail.to.includes(email) && subjectOf(mail) === subject);
}

/** Waits until `count` messages to `email` with this subject have arrived, and returns them. */
export async function waitForMails(
  received: Received[],
  email: string,
  subject: string,
  count = 1,
  timeoutMs = 15_000,
): Promise<Received[]> {
  for (let waited = 0; mailsTo(received, email, subject).length < count; waited += 25) {
    if (waited > timeoutMs)
      throw new Error(`${mailsTo(received, email, subject).length} of ${count} "${subject}" to ${email}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return mailsTo(received, email, subject);
}

/** The token in a mail's link. */
export function tokenIn(mail: Received): string {
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(decodedText(mail))?.[1];
  if (!token) throw new Error('no link with a token in the mail');
  return token;
}
