// Delivering the mail outbox. Messages are queued in the same transaction as
// what they announce (OutboxRepository.enqueue) and delivered here, by every
// process in turn: each claims due messages atomically for a lease, sends
// them, and marks them sent, or failed with a later attempt (exponential
// backoff). Without a transport (no SMTP_URL) nothing is sent: the messages
// stay in the outbox, for `npm run cli -- outbox` to show.
import type { OutboxRepository, OutgoingMail } from './ports.js';

export interface MailTransport {
  /** Hands one message to the mail server; throws when it is not accepted. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

export interface DeliverySettings {
  /** How long a claimed message is left to its sender before others may take it. */
  leaseMs: number;
  /** The first retry comes this long after a failure, then twice as long each time, up to `maxBackoffMs`. */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** Messages claimed at once. */
  batchSize: number;
}

export const DEFAULT_DELIVERY: DeliverySettings = {
  leaseMs: 60_000,
  firstBackoffMs: 1_000,
  maxBackoffMs: 3_600_000,
  batchSize: 20,
};

export interface DeliveryReport {
  sent: number;
  failed: number;
}

export class MailDelivery {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly transport: MailTransport,
    private readonly settings: DeliverySettings = DEFAULT_DELIVERY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Claims the due messages and tries each once. */
  async deliverDue(
    onFailure: (id: number, attempt: number, error: unknown) => void = () => {},
  ): Promise<DeliveryReport> {
    const report = { sent: 0, failed: 0 };
    const claimed = await this.outbox.claimDue(this.now(), this.settings.leaseMs, this.settings.batchSize);
    for (const mail of claimed) {
      try {
        await this.transport.send(mail);
        await this.outbox.markSent(mail.id, this.now());
        report.sent += 1;
      } catch (error) {
        const backoff = Math.min(this.settings.maxBackoffMs, this.settings.firstBackoffMs * 2 ** (mail.attempts - 1));
        await this.outbox.markFailed(mail.id, this.now() + backoff, failureText(error));
        onFailure(mail.id, mail.attempts, error);
        report.failed += 1;
      }
    }
    return report;
  }
}

/** What is kept of a delivery failure: the server's words, never the message. */
function failureText(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message.split('\n')[0] : 'delivery failed';
  return typeof code === 'string' ? `${code}: ${text}` : text;
}
