// Runs mail delivery in the background of a serving process: every
// MAIL_POLL_MS, one round at a time.
import { MailDelivery, type MailTransport } from '../domain/mail.js';
import type { OutboxRepository } from '../domain/ports.js';
import { describeSafely, type Logger } from '../logger.js';

export interface RunningDelivery {
  /**
   * Claims no more messages, gives the one in flight up to `graceMs` to be
   * sent, then abandons it (to a later attempt, here or by another process)
   * and closes the transport. Calling it again waits for the same stop.
   */
  stop(graceMs?: number): Promise<void>;
}

export function startDelivery(
  outbox: OutboxRepository,
  transport: MailTransport,
  pollMs: number,
  logger: Logger,
): RunningDelivery {
  const delivery = new MailDelivery(outbox, transport);
  const finish = new AbortController();
  const abandon = new AbortController();
  let round: Promise<unknown> = Promise.resolve();
  let running = false;
  const tick = () => {
    if (running || finish.signal.aborted) return;
    running = true;
    round = delivery
      .deliverDue(
        {
          failed: (id, attempt, failure) =>
            // The outbox id and the server's answer only: no address, link or token.
            logger.warn({ outboxId: id, attempt, failure }, 'mail delivery failed; will retry'),
          claimLost: (id) =>
            logger.warn({ outboxId: id }, 'mail delivery outlasted its claim; another process may have sent it too'),
        },
        { finish: finish.signal, abandon: abandon.signal },
      )
      .catch((error: unknown) => logger.warn({ failure: describeSafely(error) }, 'mail delivery round failed'))
      .finally(() => (running = false));
  };
  const timer = setInterval(tick, pollMs).unref();
  tick();
  let stopped: Promise<void> | undefined;
  return {
    stop(graceMs = 0) {
      stopped ??= (async () => {
        clearInterval(timer);
        finish.abort();
        const deadline = setTimeout(() => abandon.abort(), graceMs);
        await round;
        clearTimeout(deadline);
        transport.close();
      })();
      return stopped;
    },
  };
}
