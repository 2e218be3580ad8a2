// What the domain needs of the mail outbox.

/** A message to send: a plain-text and an HTML part. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface QueuedMail extends OutgoingMail {
  id: number;
  createdAt: number;
  /** Delivery attempts so far, this one included once claimed. */
  attempts: number;
  sentAt: number | null;
  lastError: string | null;
}

/**
 * A sender's claim on a message: every claim counts an attempt, so once a
 * lease has run out and another sender has claimed the message, the first
 * sender's claim no longer matches.
 */
export type OutboxClaim = Pick<QueuedMail, 'id' | 'attempts'>;

export interface OutboxRepository {
  /** Queues a message; inside a transaction, it exists only if the transaction commits. */
  enqueue(mail: OutgoingMail, nowMs: number): Promise<number>;
  /**
   * Claims up to `limit` unsent messages that are due, in one atomic step
   * (on PostgreSQL with FOR UPDATE SKIP LOCKED), for `leaseMs`: no other
   * sender takes them meanwhile. A sender that dies leaves them to be
   * claimed again when the lease runs out.
   */
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<QueuedMail[]>;
  /** Marks the message sent, if the claim is still the latest one; says whether it was. */
  markSent(claim: OutboxClaim, nowMs: number): Promise<boolean>;
  /** Gives the claim back, to be tried again from `nextAttemptAt`, if it is still the latest one. */
  markFailed(claim: OutboxClaim, nextAttemptAt: number, error: string): Promise<boolean>;
  /** Deletes every message to this address, sent or not. */
  deleteTo(recipient: string): Promise<void>;
  /** Deletes the messages queued before `atMs`, sent or not; says how many. */
  deleteCreatedBefore(atMs: number): Promise<number>;
  /** The newest messages first, for operators. */
  list(limit: number): Promise<QueuedMail[]>;
  find(id: number): Promise<QueuedMail | undefined>;
}
