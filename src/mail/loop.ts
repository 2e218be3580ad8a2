// Runs mail delivery in the background of a serving process: every
// MAIL_POLL_MS, one round at a time.
import { MailDelivery, type MailTransport } from '../domain/mail.js';
import type { OutboxRepository } from '../domain/ports.js';
import { describeSafely, type Logger } from '../logger.js';

export interface RunningDelivery {
  /** Waits for the round in progress, then stops. */
  stop(): Promise<void>;
}

export function startDelivery(
  outbox: OutboxRepository,
  transport: MailTransport,
  pollMs: number,
  logger: Logger,
): RunningDelivery {
  const delivery = new MailDelivery(outbox, transport);
  let round: Promise<unknown> = Promise.resolve();
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    round = delivery
      .deliverDue({
        failed: (id, attempt, failure) =>
          // The outbox id and the server's answer only: no address, link or token.
          logger.warn({ outboxId: id, attempt, failure }, 'mail delivery failed; will retry'),
        claimLost: (id) =>
          logger.warn({ outboxId: id }, 'mail delivery outlasted its claim; another process may have sent it too'),
      })
      .catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'mail delivery round failed'))
      .finally(() => (running = false));
  };
  const timer = setInterval(tick, pollMs).unref();
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await round;
      transport.close();
    },
  };
}
