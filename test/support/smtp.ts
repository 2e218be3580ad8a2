// A real SMTP server on loopback for the tests (smtp-server): it accepts every
// message and keeps it, raw, with its envelope recipients.
import { SMTPServer } from 'smtp-server';

export interface Received {
  to: string[];
  raw: string;
}

/** An SMTP server on loopback that keeps every message it accepts. */
export async function startSmtpServer(port = 0) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.server.address() as { port: number };
  return { port: address.port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The mail's text as written: quoted-printable soft line breaks unfolded and =XX decoded. */
export function decodedText(mail: Received): string {
  return mail.raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The reset token in a mail's link. */
export function resetTokenIn(mail: Received): string {
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(decodedText(mail))?.[1];
  if (!token) throw new Error('no reset link in the mail');
  return token;
}
