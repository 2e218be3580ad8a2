// Delivering the mail outbox. Messages are queued in the same transaction as
// what they announce (OutboxRepository.enqueue) and delivered here, by every
// process in turn: each claims one due message at a time for a lease, sends
// it within a deadline shorter than the lease, and marks it sent, or failed
// with a later attempt (exponential backoff), only while its claim is still
// the latest. A claim so covers one send and never a queue of them, and a
// slow mail server can't let a second sender take a message still being sent.
// Without a transport (no SMTP_URL) nothing is sent: the messages stay in the
// outbox, for `npm run cli -- outbox` to show.
import type { OutboxRepository, OutgoingMail, QueuedMail } from './ports.js';

export interface MailTransport {
  /** Hands one message to the mail server; throws when it is not accepted, or once `signal` aborts. */
  send(mail: OutgoingMail, signal: AbortSignal): Promise<void>;
  close(): void;
}

export interface DeliverySettings {
  /** How long a claimed message is left to its sender before others may take it. */
  leaseMs: number;
  /** The longest the delivery of one message may take before it is abandoned, to be retried; below `leaseMs`. */
  sendTimeoutMs: number;
  /** The first retry comes this long after a failure, then twice as long each time, up to `maxBackoffMs`. */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** Messages one round sends at most, each claimed on its own. */
  batchSize: number;
}

const SEND_TIMEOUT_MS = 30_000;

export const DEFAULT_DELIVERY: DeliverySettings = {
  // Twice the send timeout: the outcome is written after the send, and other
  // processes read the lease by their own clocks.
  leaseMs: 2 * SEND_TIMEOUT_MS,
  sendTimeoutMs: SEND_TIMEOUT_MS,
  firstBackoffMs: 1_000,
  maxBackoffMs: 3_600_000,
  batchSize: 20,
};

export interface DeliveryReport {
  sent: number;
  failed: number;
}

export interface DeliveryEvents {
  /** A send failed; `failure` is the server's answer, without the recipient's address. */
  failed(id: number, attempt: number, failure: string): void;
  /** Another sender had claimed the message before its outcome was written: it may have gone twice. */
  claimLost(id: number): void;
}

export interface RoundControl {
  /** Once aborted, the round claims no further message. */
  finish?: AbortSignal;
  /** Once aborted, the send in flight is abandoned too, and the message left to a later attempt. */
  abandon?: AbortSignal;
}

export class MailDelivery {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly transport: MailTransport,
    private readonly settings: DeliverySettings = DEFAULT_DELIVERY,
    private readonly now: () => number = Date.now,
  ) {
    if (settings.sendTimeoutMs >= settings.leaseMs) throw new Error('a send must time out before its lease runs out');
  }

  /** Claims the due messages one by one, up to a batch, and tries each once. */
  async deliverDue(events: Partial<DeliveryEvents> = {}, control: RoundControl = {}): Promise<DeliveryReport> {
    const report = { sent: 0, failed: 0 };
    while (report.sent + report.failed < this.settings.batchSize && !control.finish?.aborted) {
      const [mail] = await this.outbox.claimDue(this.now(), this.settings.leaseMs, 1);
      if (!mail) break;
      if (await this.deliver(mail, events, control.abandon)) report.sent += 1;
      else report.failed += 1;
    }
    return report;
  }

  private async deliver(mail: QueuedMail, events: Partial<DeliveryEvents>, abandon?: AbortSignal): Promise<boolean> {
    const deadline = AbortSignal.timeout(this.settings.sendTimeoutMs);
    try {
      await this.transport.send(mail, abandon ? AbortSignal.any([deadline, abandon]) : deadline);
    } catch (error) {
      const failure = failureText(error, mail.to);
      const backoff = Math.min(this.settings.maxBackoffMs, this.settings.firstBackoffMs * 2 ** (mail.attempts - 1));
      const recorded = await this.outbox.markFailed(mail, this.now() + backoff, failure);
      events.failed?.(mail.id, mail.attempts, failure);
      if (!recorded) events.claimLost?.(mail.id);
      return false;
    }
    if (!(await this.outbox.markSent(mail, this.now()))) events.claimLost?.(mail.id);
    return true;
  }
}

/**
 * What is kept of a delivery failure: the server's words, never the message,
 * and not the recipient's address, which servers quote when they refuse it.
 */
function failureText(error: unknown, recipient: string): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? withoutAddress(message.split('\n')[0], recipient) : 'delivery failed';
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

const ADDRESS_LIKE = /[^\s<>()[\]"',;:]+@[^\s<>()[\]"',;:]+/g;
/** Local parts this short can't name anyone, and hiding them would garble the text. */
const SHORTEST_HIDDEN_LOCAL_PART = 3;

function withoutAddress(text: string, recipient: string): string {
  const hidden = text.replace(ADDRESS_LIKE, '[address]');
  const localPart = recipient.slice(0, recipient.lastIndexOf('@'));
  if (localPart.length < SHORTEST_HIDDEN_LOCAL_PART) return hidden;
  return hidden.replace(new RegExp(localPart.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '[address]');
}
