// How long records that only grow are kept: the security audit trail, and
// the mail outbox (whose messages carry links in plain text). Run with the
// session pruning, every few minutes, by every instance: deleting what is
// older than a cut-off is the same work whoever does it first.
import type { OutboxRepository, SecurityEventRepository } from './ports.js';

export interface RetentionSettings {
  /** Days an audit event is kept; 0 keeps them forever. */
  auditDays: number;
  /** Days a message stays in the outbox, sent or not; 0 keeps them. */
  mailDays: number;
}

const DAY_MS = 86_400_000;

export class Retention {
  constructor(
    private readonly store: { securityEvents: SecurityEventRepository; outbox: OutboxRepository },
    private readonly settings: RetentionSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Deletes what is past its retention; says how many rows went. */
  async prune(): Promise<{ auditEvents: number; messages: number }> {
    const { auditDays, mailDays } = this.settings;
    const now = this.now();
    const auditEvents = auditDays > 0 ? await this.store.securityEvents.deleteOlderThan(now - auditDays * DAY_MS) : 0;
    const messages = mailDays > 0 ? await this.store.outbox.deleteCreatedBefore(now - mailDays * DAY_MS) : 0;
    return { auditEvents, messages };
  }
}
