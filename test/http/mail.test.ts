// The mail outbox, delivered for real: nodemailer over SMTP to an SMTP server
// started inside the test (smtp-server), with retries while it is down,
// exactly once when several processes deliver from one database, even from a
// slow relay, and a shutdown that neither hangs on a relay nor loses a reset
// link it has answered for.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MailDelivery } from '../../src/domain/mail.js';
import type { QueuedMail } from '../../src/domain/ports.js';
import { smtpTransport } from '../../src/mail/smtp.js';
import { createTestDatabase } from '../support/database.js';
import { tokenFromOutbox } from '../support/outbox.js';
import { freePort } from '../support/process.js';
import { startSmtpServer, SUBJECTS } from '../support/smtp.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';

async function waitFor(condition: () => boolean | Promise<boolean>, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(25);
  }
}

const message = (n: number) => ({
  to: `reader${n}@example.com`,
  subject: `Message ${n}`,
  text: `Plain text ${n}`,
  html: `<p>HTML ${n}</p>`,
});

const sentRows = async (api: TestServer) => {
  const [row] = await api.service.db('mail_outbox').whereNotNull('sent_at').count({ n: '*' });
  return Number(row.n);
};

describe('the mail outbox', function () {
  this.timeout(60_000);

  it('delivers a queued message over SMTP with a plain-text and an HTML part, and marks it sent', async () => {
    const smtp = await startSmtpServer();
    const api = await startTestServer({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_POLL_MS: '50' });
    try {
      await api.service.outbox.enqueue(message(1), Date.now());
      await waitFor(() => smtp.received.length === 1);
      const [mail] = smtp.received;
      expect(mail.to).to.deep.equal(['reader1@example.com']);
      expect(mail.raw).to.include('Subject: Message 1');
      expect(mail.raw).to.match(/Content-Type: text\/plain/);
      expect(mail.raw).to.match(/Content-Type: text\/html/);
      expect(mail.raw).to.include('From: User Service <no-reply@localhost>');
      await waitFor(async () => (await sentRows(api)) === 1);
    } finally {
      await api.close();
      await smtp.close();
    }
  });

  it('loses nothing while the mail server is down, and delivers once it is back', async () => {
    const port = await freePort(); // nothing listens there yet
    const api = await startTestServer({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_POLL_MS: '50' });
    let smtp: Awaited<ReturnType<typeof startSmtpServer>> | undefined;
    try {
      const id = await api.service.outbox.enqueue(message(2), Date.now());
      await waitFor(async () => ((await api.service.outbox.find(id))?.lastError ?? null) !== null);
      const failed = await api.service.outbox.find(id);
      expect(failed!.sentAt).to.equal(null);
      expect(failed!.attempts).to.be.at.least(1);
      smtp = await startSmtpServer(port);
      await waitFor(() => smtp!.received.length === 1, 15_000);
      await waitFor(async () => (await api.service.outbox.find(id))!.sentAt !== null);
    } finally {
      await api.close();
      await smtp?.close();
    }
  });

  it('delivers each message exactly once when two processes deliver from one database', async () => {
    const smtp = await startSmtpServer();
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_POLL_MS: '50' };
    const [first, second] = await Promise.all([startTestServer(env), startTestServer(env)]);
    try {
      await Promise.all(
        Array.from({ length: 30 }, (_, n) => first.service.outbox.enqueue(message(100 + n), Date.now())),
      );
      await waitFor(async () => (await sentRows(first)) === 30);
      await sleep(200); // a duplicate would arrive now
      const subjects = smtp.received.map((mail) => /Subject: (Message \d+)/.exec(mail.raw)![1]);
      expect(subjects).to.have.length(30);
      expect(new Set(subjects).size).to.equal(30);
    } finally {
      await first.close();
      await second.close();
      await smtp.close();
      await database.drop();
    }
  });

  it('sends each message once when a slow relay makes the deliveries outlast a lease, with two senders', async () => {
    // Two senders on their own connections to one database, each claiming
    // through the outbox as the service does (their own loops are off: no
    // SMTP_URL). 16 messages at 400 ms each take 6.4 s from one sender, 3.2 s
    // at best from two: well past the 2 s lease, while each message takes a
    // fifth of it.
    const database = await createTestDatabase();
    const smtp = await startSmtpServer(0, { answerDelayMs: 400 });
    const [first, second] = await Promise.all([
      startTestServer({ DATABASE_URL: database.url }),
      startTestServer({ DATABASE_URL: database.url }),
    ]);
    const settings = { leaseMs: 2000, sendTimeoutMs: 1500, firstBackoffMs: 1000, maxBackoffMs: 1000, batchSize: 20 };
    let done = false;
    const keepDelivering = async (api: TestServer) => {
      const transport = smtpTransport(`smtp://127.0.0.1:${smtp.port}`, 'Test <test@localhost>');
      const delivery = new MailDelivery(api.service.outbox, transport, settings);
      while (!done) {
        await delivery.deliverDue();
        await sleep(20);
      }
      transport.close();
    };
    try {
      const count = 16;
      for (let n = 0; n < count; n += 1) await first.service.outbox.enqueue(message(200 + n), Date.now());
      const started = Date.now();
      const senders = Promise.all([keepDelivering(first), keepDelivering(second)]);
      await waitFor(async () => (await sentRows(first)) === count, 30_000);
      const took = Date.now() - started;
      done = true;
      await senders; // every send started has ended
      expect(took, 'the deliveries went on past the first lease').to.be.above(settings.leaseMs);
      const subjects = smtp.received.map((mail) => /Subject: (Message \d+)/.exec(mail.raw)![1]);
      expect(subjects).to.have.length(count);
      expect(new Set(subjects).size).to.equal(count);
    } finally {
      done = true;
      await first.close();
      await second.close();
      await smtp.close();
      await database.drop();
    }
  });

  it('leaves a message to the sender that claimed it after the lease ran out', async () => {
    const api = await startTestServer();
    try {
      const { outbox } = api.service;
      const id = await outbox.enqueue(message(6), Date.now());
      const settings = { leaseMs: 1000, sendTimeoutMs: 500, firstBackoffMs: 1000, maxBackoffMs: 1000, batchSize: 20 };
      let clock = Date.now();
      let otherClaim: QueuedMail | undefined;
      const transport = {
        // The lease runs out mid-send (a stalled process, a clock ahead):
        // another sender claims the message meanwhile.
        async send() {
          clock += settings.leaseMs + 1;
          [otherClaim] = await outbox.claimDue(clock, settings.leaseMs, 1);
        },
        close() {},
      };
      const lost: number[] = [];
      await new MailDelivery(outbox, transport, settings, () => clock).deliverDue({ claimLost: (n) => lost.push(n) });
      expect(otherClaim?.id, 'the other sender has claimed it').to.equal(id);
      expect((await outbox.find(id))!.sentAt, 'left for the other sender to mark').to.equal(null);
      expect(lost).to.deep.equal([id]);
      expect(await outbox.markSent(otherClaim!, clock)).to.equal(true);
    } finally {
      await api.close();
    }
  });

  it('stops within the shutdown grace while a relay holds a message unanswered, and gives the message back', async () => {
    const database = await createTestDatabase();
    const hanging = await startSmtpServer(0, { neverAnswer: true });
    const api = await startTestServer({
      DATABASE_URL: database.url,
      SMTP_URL: `smtp://127.0.0.1:${hanging.port}`,
      MAIL_POLL_MS: '50',
      SHUTDOWN_GRACE_SECONDS: '1',
    });
    let later: TestServer | undefined;
    const smtp = await startSmtpServer();
    try {
      const id = await api.service.outbox.enqueue(message(4), Date.now());
      await waitFor(() => hanging.dataArrived.length === 1); // the relay has it and says nothing
      api.service.beginShutdown();
      // The grace is 1 s; nodemailer alone would wait 10 minutes of silence.
      const closing = api.close();
      const outcome = await Promise.race([closing.then(() => 'stopped'), sleep(8000).then(() => 'still stopping')]);
      expect(outcome).to.equal('stopped');
      later = await startTestServer({
        DATABASE_URL: database.url,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        MAIL_POLL_MS: '50',
      });
      const abandoned = await later.service.outbox.find(id);
      expect(abandoned!.sentAt).to.equal(null);
      expect(abandoned!.lastError).to.be.a('string');
      await waitFor(async () => (await later!.service.outbox.find(id))!.sentAt !== null, 15_000);
      expect(smtp.received.map((mail) => mail.to)).to.deep.equal([['reader4@example.com']]);
    } finally {
      await later?.close();
      await smtp.close();
      await hanging.close();
      await database.drop();
    }
  });

  it('lets the message in flight be sent within the shutdown grace', async () => {
    const database = await createTestDatabase();
    const slow = await startSmtpServer(0, { answerDelayMs: 500 });
    const api = await startTestServer({
      DATABASE_URL: database.url,
      SMTP_URL: `smtp://127.0.0.1:${slow.port}`,
      MAIL_POLL_MS: '50',
      SHUTDOWN_GRACE_SECONDS: '10',
    });
    let later: TestServer | undefined;
    try {
      const id = await api.service.outbox.enqueue(message(7), Date.now());
      await waitFor(() => slow.dataArrived.length === 1);
      expect(slow.received, 'still unanswered at shutdown').to.have.length(0);
      api.service.beginShutdown();
      await api.close();
      later = await startTestServer({ DATABASE_URL: database.url });
      expect((await later.service.outbox.find(id))!.sentAt).to.be.a('number');
      expect(slow.received.map((mail) => mail.to)).to.deep.equal([['reader7@example.com']]);
    } finally {
      await later?.close();
      await slow.close();
      await database.drop();
    }
  });

  it("keeps a refused recipient's address out of the log and the outbox's last error", async () => {
    const refused = 'no.such.reader@example.com';
    const smtp = await startSmtpServer(0, { rejectRecipients: [refused] });
    const api = await startTestServer(
      { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_POLL_MS: '50' },
      { captureLogs: true },
    );
    try {
      const id = await api.service.outbox.enqueue({ ...message(5), to: refused }, Date.now());
      await waitFor(async () => ((await api.service.outbox.find(id))?.lastError ?? null) !== null);
      const { lastError } = (await api.service.outbox.find(id))!;
      const failures = api.logLines.filter((line) => line.includes('mail delivery failed'));
      expect(failures, 'the failure was logged').to.have.length.of.at.least(1);
      expect(lastError, "the server's refusal is kept").to.include('550');
      expect(lastError).not.to.include(refused);
      expect(lastError).not.to.include('no.such.reader');
      expect(failures[0], "the server's refusal is logged").to.include('550');
      for (const line of api.logLines) expect(line).not.to.include('no.such.reader');
    } finally {
      await api.close();
      await smtp.close();
    }
  });

  it('queues a reset link asked for just before shutdown: the 202 promised it', async () => {
    const database = await createTestDatabase();
    const api = await startTestServer({ DATABASE_URL: database.url });
    let later: TestServer | undefined;
    try {
      const { email } = await api.register();
      const forgot = await api.request('POST', '/password/forgot', { body: { email } });
      expect(forgot.status).to.equal(202);
      api.service.beginShutdown();
      await api.close();
      later = await startTestServer({ DATABASE_URL: database.url });
      expect(await tokenFromOutbox(later.service.db, email, SUBJECTS.reset)).to.be.a('string');
    } finally {
      await later?.close();
      await database.drop();
    }
  });

  it('keeps mail in the outbox without SMTP_URL, for the CLI to show', async () => {
    const database = await createTestDatabase();
    const api = await startTestServer({ DATABASE_URL: database.url });
    try {
      const id = await api.service.outbox.enqueue(message(3), Date.now());
      await sleep(200);
      expect((await api.service.outbox.find(id))!.sentAt).to.equal(null);
      const run = (args: string[]) =>
        spawnSync(
          process.execPath,
          ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts'), ...args],
          {
            env: {
              ...process.env,
              DATABASE_URL: database.url,
              JWT_SECRET: TEST_SECRET,
              SIGNING_KEYS_SECRET: TEST_SECRET,
              ADMIN_EMAIL: '',
              ADMIN_PASSWORD: '',
            },
            encoding: 'utf8',
            timeout: 30_000,
          },
        );
      const listing = run(['outbox']);
      expect(listing.status, listing.stderr).to.equal(0);
      expect(listing.stdout).to.match(new RegExp(`^${id}  \\S+  reader3@example.com  Message 3  \\[waiting\\]`, 'm'));
      const shown = run(['outbox', '--id', String(id)]);
      expect(shown.stdout).to.include('To: reader3@example.com');
      expect(shown.stdout).to.include('Plain text 3');
    } finally {
      await api.close();
      await database.drop();
    }
  });
});
