import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import jwt from 'jsonwebtoken';
import { canonicalEmail, normalizeText } from '../../src/domain/normalize.js';
import { HashAdmission } from '../../src/domain/hash-admission.js';
import { createPasswordHasher, type PasswordHasher } from '../../src/domain/passwords.js';
import argon2 from 'argon2';
import { DomainError, Overloaded } from '../../src/domain/errors.js';
import { checkNewPassword } from '../../src/domain/password-policy.js';
import { ARGON2_OPTIONS } from '../../src/domain/passwords.js';
import { mayAssignRole, mayUpdateProfile } from '../../src/domain/permissions.js';
import { sharedSecretKeys, TokenSigner } from '../../src/domain/tokens.js';
import type { Principal } from '../../src/domain/model.js';

describe('normalization', () => {
  it('folds compatibility characters and trims', () => {
    expect(normalizeText('  ｊａｎｅ\u3000')).to.equal('jane');
    expect(normalizeText('ﬁle')).to.equal('file');
  });
  it('lower-cases emails', () => {
    expect(canonicalEmail(' Jane.Doe@Example.COM ')).to.equal('jane.doe@example.com');
  });
});

describe('tokens', () => {
  const secret = 's'.repeat(40);
  const scope = { issuer: 'user-service', audience: 'user-service' };
  const signer = new TokenSigner(sharedSecretKeys(secret), scope);
  // An hour: the files load before any test runs, and a whole suite takes minutes.
  const exp = Math.floor(Date.now() / 1000) + 3600;

  it('round-trips the claims and signs with HS256', async () => {
    const token = signer.sign({ userId: 7, sessionId: 'abc' }, exp, {
      amr: ['pwd', 'otp'],
      authTimeSeconds: 1_700_000_000,
    });
    expect(await signer.verify(token)).to.deep.equal({ userId: 7, sessionId: 'abc' });
    expect(jwt.decode(token)).to.include({ auth_time: 1_700_000_000 }).and.to.have.deep.property('amr', ['pwd', 'otp']);
    expect(jwt.decode(token, { complete: true })?.header.alg).to.equal('HS256');
  });

  it('refuses other algorithms, bad subjects and missing ids', async () => {
    const claims = { iss: scope.issuer, aud: scope.audience };
    expect(await signer.verify(jwt.sign({ ...claims, sub: '7', jti: 'a', exp }, secret))).to.deep.equal({
      userId: 7,
      sessionId: 'a',
    });
    expect(
      await signer.verify(jwt.sign({ ...claims, sub: '7', jti: 'a', exp }, secret, { algorithm: 'HS384' })),
    ).to.equal(undefined);
    expect(await signer.verify(jwt.sign({ ...claims, sub: 'seven', jti: 'a', exp }, secret))).to.equal(undefined);
    expect(await signer.verify(jwt.sign({ ...claims, sub: '0', jti: 'a', exp }, secret))).to.equal(undefined);
    expect(await signer.verify(jwt.sign({ ...claims, sub: '7', exp }, secret))).to.equal(undefined);
    const expiredAMinuteAgo = Math.floor(Date.now() / 1000) - 60;
    expect(await signer.verify(jwt.sign({ ...claims, sub: '7', jti: 'a', exp: expiredAMinuteAgo }, secret))).to.equal(
      undefined,
    );
  });

  it('refuses tokens for another issuer or audience, or without them', async () => {
    const sign = (claims: object) => jwt.sign({ sub: '7', jti: 'a', exp, ...claims }, secret);
    expect(await signer.verify(sign({ iss: 'someone-else', aud: scope.audience }))).to.equal(undefined);
    expect(await signer.verify(sign({ iss: scope.issuer, aud: 'another-app' }))).to.equal(undefined);
    expect(await signer.verify(sign({}))).to.equal(undefined);
  });

  it('refuses a token without exp, or with a crit header', async () => {
    const claims = { iss: scope.issuer, aud: scope.audience, sub: '7', jti: 'a' };
    expect(await signer.verify(jwt.sign(claims, secret))).to.equal(undefined);
    const crit = jwt.sign({ ...claims, exp }, secret, { header: { alg: 'HS256', crit: ['b64'] } });
    expect(await signer.verify(crit)).to.equal(undefined);
  });
});

describe('password hashing', () => {
  let hasher: PasswordHasher;
  before(async () => {
    hasher = await createPasswordHasher();
  });

  it('hashes with argon2id at the OWASP parameters and verifies', async () => {
    const hash = await hasher.hash('correct horse', 'test');
    expect(hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 'correct horse', 'test')).to.deep.equal({ matches: true, outdated: false });
    expect(await hasher.verify(hash, 'correct horsE', 'test')).to.deep.equal({ matches: false, outdated: false });
  });

  it('verifies bcrypt hashes and asks for them to be replaced', async () => {
    const hash = bcrypt.hashSync('imported', 4);
    expect(await hasher.verify(hash, 'imported', 'test')).to.deep.equal({ matches: true, outdated: true });
    expect((await hasher.verify(hash, 'imported!', 'test')).matches).to.equal(false);
  });

  it('treats an unreadable hash as a failed check', async () => {
    expect((await hasher.verify('not-a-hash', 'x', 'test')).matches).to.equal(false);
  });

  it('hashes the NFKC form, so another way of typing the same password matches', async () => {
    const composed = 'caf\u00e9-au-lait'; // é as one code point
    const decomposed = 'cafe\u0301-au-lait'; // e and a combining acute accent
    const fullWidth = '\uff50\uff41\uff53\uff53-word-99'; // full-width "pass"
    expect((await hasher.verify(await hasher.hash(composed, 'test'), decomposed, 'test')).matches).to.equal(true);
    expect((await hasher.verify(await hasher.hash(fullWidth, 'test'), 'pass-word-99', 'test')).matches).to.equal(true);
  });

  it('still accepts a hash of the password as typed before normalization, and asks for it to be replaced', async () => {
    const typed = 'cafe\u0301-au-lait';
    const legacy = await argon2.hash(typed, ARGON2_OPTIONS); // as the service hashed before NFKC
    expect(await hasher.verify(legacy, typed, 'test')).to.deep.equal({ matches: true, outdated: true });
    expect((await hasher.verify(legacy, 'cafe-au-lait', 'test')).matches).to.equal(false);
  });
});

describe('the password policy', () => {
  const refusal = (password: string) => {
    try {
      checkNewPassword(password);
      return undefined;
    } catch (error) {
      return (error as DomainError).problem?.message;
    }
  };

  it('counts characters after NFKC and refuses the most common passwords, case-blind', () => {
    expect(refusal('a-fine-long-passphrase')).to.equal(undefined);
    expect(refusal('password1')).to.equal('is one of the most common passwords');
    expect(refusal('PassWord1')).to.equal('is one of the most common passwords');
    expect(refusal('\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44')).to.equal('is one of the most common passwords');
    expect(refusal('iloveyou')).to.equal('is one of the most common passwords');
    // Eight code points as sent, seven after composing e + accent.
    expect(refusal('cafe\u0301xyz')).to.equal('must be 8 to 128 characters');
    expect(refusal('x'.repeat(129))).to.equal('must be 8 to 128 characters');
  });
});

describe('the hashing admission', () => {
  /** A task that runs until released, recording when it started. */
  function gate(log: string[], name: string) {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { task: () => (log.push(name), done), release };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('runs one job at a time and serves waiting requesters in turn, not in arrival order', async () => {
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 100, maxQueuedSeconds: 100 },
      10,
    );
    const started: string[] = [];
    const jobs = ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'].map((name) => ({ name, ...gate(started, name) }));
    const runs = jobs.map(({ name, task }) => admission.run(name[0], task));
    for (const job of jobs) {
      await settle();
      job.release(); // harmless for jobs not yet started: they finish at once when they do
    }
    await Promise.all(runs);
    expect(started).to.deep.equal(['a1', 'a2', 'b1', 'c1', 'a3', 'b2']);
  });

  it('refuses at once, with a retry time, work past a requester budget, while others still get in', async () => {
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 0.035, maxQueuedSeconds: 100 },
      10,
    );
    const started: string[] = [];
    const first = gate(started, 'a1');
    const running = admission.run('a', first.task);
    const queued = [admission.run('a', async () => 'a2'), admission.run('a', async () => 'a3')];
    let refusal: unknown;
    await admission.run('a', async () => 'a4').catch((error: unknown) => (refusal = error));
    expect(refusal).to.be.instanceOf(Overloaded);
    expect((refusal as Overloaded).retryAfterSeconds).to.equal(1);
    const other = admission.run('b', async () => 'b1');
    first.release();
    expect(await Promise.all([running, ...queued, other])).to.deep.equal([undefined, 'a2', 'a3', 'b1']);
  });

  it('refuses past the budget for all requesters together', async () => {
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 100, maxQueuedSeconds: 0.025 },
      10,
    );
    const first = gate([], 'x');
    const running = admission.run('x', first.task);
    const second = admission.run('y', async () => 'y');
    const refused = await admission
      .run('z', async () => 'z')
      .then(
        () => false,
        (error: unknown) => error instanceof Overloaded,
      );
    expect(refused).to.equal(true);
    first.release();
    await Promise.all([running, second]);
  });
});

describe('the hashing admission under a flood from many addresses', () => {
  const held = () => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { task: () => done, release };
  };
  const outcome = (run: Promise<unknown>) =>
    run.then(
      () => 'done',
      (error: unknown) => (error instanceof Overloaded ? 'busy' : 'other'),
    );

  it("admits a fresh address's first job though the flood fills the whole budget, and runs it within one job per address", async () => {
    // 10 ms a job, 1 s for all: 100 jobs. 25 flood addresses queue 8 each (200).
    const admission = new HashAdmission({ concurrency: 1, maxQueuedSecondsPerRequester: 0.5, maxQueuedSeconds: 1 }, 10);
    const first = held();
    const order: string[] = [];
    const flood = [outcome(admission.run('flood-0', first.task))];
    for (let round = 0; round < 8; round += 1) {
      for (let address = 0; address < 25; address += 1) {
        flood.push(outcome(admission.run(`flood-${address}`, async () => void order.push('flood'))));
      }
    }
    const honest = outcome(admission.run('honest', async () => void order.push('honest')));
    first.release();
    expect(await honest).to.equal('done');
    const outcomes = await Promise.all(flood);
    expect(outcomes.filter((o) => o === 'busy').length, 'the flood was over the budget').to.be.greaterThan(0);
    expect(order.indexOf('honest'), 'jobs run before the honest one').to.be.at.most(25);
  });

  it('groups IPv6 addresses by /64, and IPv4-mapped addresses with their IPv4 form', async () => {
    // 10 ms a job, 25 ms for one address: its third job is refused.
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 0.025, maxQueuedSeconds: 100 },
      10,
    );
    const first = held();
    const runs = [
      admission.run('2001:db8:1:2::1', first.task),
      admission.run('2001:db8:1:2:ffff::9', async () => undefined),
      admission.run('::ffff:192.0.2.1', async () => undefined),
      admission.run('192.0.2.1', async () => undefined),
    ];
    const sameSlash64 = outcome(admission.run('2001:0DB8:0001:0002:aaaa::7', async () => undefined));
    const otherSlash64 = outcome(admission.run('2001:db8:1:3::1', async () => undefined));
    const sameIpv4 = outcome(admission.run('192.0.2.1', async () => undefined));
    first.release();
    await Promise.all(runs);
    expect({
      sameSlash64: await sameSlash64,
      otherSlash64: await otherSlash64,
      sameIpv4: await sameIpv4,
    }).to.deep.equal({ sameSlash64: 'busy', otherSlash64: 'done', sameIpv4: 'busy' });
  });
});

describe('the hashing turns, taken before a request does anything else', () => {
  const held = () => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { task: () => done, release };
  };
  const outcome = (run: () => unknown) => {
    try {
      run();
      return 'in';
    } catch (error) {
      return error instanceof Overloaded ? 'busy' : 'other';
    }
  };
  const settled = (run: Promise<unknown>) =>
    run.then(
      () => 'done',
      (error: unknown) => (error instanceof Overloaded ? 'busy' : 'other'),
    );

  it('counts a turn from when it is taken: past its budget a requester is refused though none of its jobs is queued', () => {
    // 10 ms a job, 35 ms for one requester: three turns.
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 0.035, maxQueuedSeconds: 100 },
      10,
    );
    const turns = [admission.enter('a'), admission.enter('a'), admission.enter('a')];
    expect(outcome(() => admission.enter('a'))).to.equal('busy');
    expect(
      outcome(() => admission.enter('b')),
      'another requester',
    ).to.equal('in');
    turns[0].leave();
    expect(
      outcome(() => admission.enter('a')),
      'after one left',
    ).to.equal('in');
  });

  it('counts a turn once however many jobs it runs, and leaving twice is harmless', async () => {
    // 100 ms a turn, 110 ms for one requester: one turn.
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 0.11, maxQueuedSeconds: 100 },
      100,
    );
    const turn = admission.enter('a');
    expect(await turn.run(async () => 'first')).to.equal('first');
    expect(await turn.run(async () => 'second')).to.equal('second');
    expect(
      outcome(() => admission.enter('a')),
      'a second turn while the first is live',
    ).to.equal('busy');
    turn.leave();
    turn.leave();
    const next = admission.enter('a');
    expect(
      outcome(() => admission.enter('a')),
      'the second leave freed nothing more',
    ).to.equal('busy');
    next.leave();
  });

  it("lets a fresh requester in while the budget is full of others' turns, shedding the newest of the longest", async () => {
    // 10 ms a job, 50 ms for all: five turns.
    const admission = new HashAdmission(
      { concurrency: 1, maxQueuedSecondsPerRequester: 1, maxQueuedSeconds: 0.05 },
      10,
    );
    const first = held();
    const a = [admission.enter('a'), admission.enter('a'), admission.enter('a')];
    const b = [admission.enter('b'), admission.enter('b')];
    const running = a[0].run(first.task); // has the slot: can't be shed
    const waiting = settled(a[1].run(async () => undefined));
    expect(
      outcome(() => admission.enter('b')),
      'a requester with a turn',
    ).to.equal('busy');

    // The newest of the longest (a's third, taken but not queued) is shed.
    const fresh = admission.enter('c');
    let refusal: unknown;
    await a[2].run(async () => 'ran').catch((error: unknown) => (refusal = error));
    expect(refusal, "the shed turn's next job").to.be.instanceOf(Overloaded);
    expect((refusal as Overloaded).retryAfterSeconds).to.equal(1);
    a[2].leave();

    // Then a's queued job, its newest turn now.
    const another = admission.enter('d');
    expect(await waiting, "a's queued job").to.equal('busy');

    first.release();
    await running;
    await Promise.all([fresh, another, ...b].map((turn) => turn.run(async () => undefined)));
    for (const turn of [...a, ...b, fresh, another]) turn.leave();
    expect(
      outcome(() => admission.enter('e')),
      'all left',
    ).to.equal('in');
  });

  it('measures what a turn costs by how fast turns end, not by how long their hashes take', async () => {
    // 10 ms a hash, 500 ms for all: 50 turns, until turns are seen to take longer.
    const admission = new HashAdmission({ concurrency: 1, maxQueuedSecondsPerRequester: 1, maxQueuedSeconds: 0.5 }, 10);
    for (let i = 0; i < 22; i += 1) {
      const turn = admission.enter('a');
      await turn.run(async () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the request's other work
      turn.leave();
    }
    const taken: unknown[] = [];
    while (outcome(() => taken.push(admission.enter(`r${taken.length}`))) === 'in' && taken.length < 100);
    // A second of turns of 50 ms or more: a turn costs at least (10 + 50) / 2 = 30 ms, 16 fit.
    expect(taken.length).to.be.within(1, 20);
  });

  it("holds one slot for a request's whole work: its jobs run inside it, and others' wait in turn behind it", async () => {
    const admission = new HashAdmission({ concurrency: 1, maxQueuedSecondsPerRequester: 1, maxQueuedSeconds: 1 }, 10);
    const order: string[] = [];
    const writes = held();
    const a = admission.enter('a');
    const holding = a.hold(async () => {
      order.push('a: writes');
      await writes.task(); // a's database work, in the slot
      await a.run(async () => void order.push('a: hash')); // would wait behind b's job if it queued again
      return 'a done';
    });
    const b = admission.enter('b');
    const waiting = b.run(async () => void order.push('b: hash'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order, "b's job waits while a holds the slot").to.deep.equal(['a: writes']);
    writes.release();
    expect(await holding).to.equal('a done');
    await waiting;
    expect(order).to.deep.equal(['a: writes', 'a: hash', 'b: hash']);
    a.leave();
    b.leave();
  });

  it('never sheds a turn whose job is running', async () => {
    // 10 ms a job, two at once, 10 ms for all: two turns.
    const admission = new HashAdmission(
      { concurrency: 2, maxQueuedSecondsPerRequester: 1, maxQueuedSeconds: 0.01 },
      10,
    );
    const jobs = [held(), held()];
    const turns = [admission.enter('a'), admission.enter('a')];
    const runs = turns.map((turn, i) => turn.run(jobs[i].task));
    expect(
      outcome(() => admission.enter('b')),
      'both of the longest are running',
    ).to.equal('busy');
    jobs[1].release();
    await runs[1];
    expect(
      outcome(() => admission.enter('b')),
      'one is between jobs',
    ).to.equal('in');
    let refusal: unknown;
    await turns[1].run(async () => undefined).catch((error: unknown) => (refusal = error));
    expect(refusal).to.be.instanceOf(Overloaded);
    jobs[0].release();
    await runs[0];
  });
});

describe('permissions', () => {
  const as = (role: Principal['role'], userId = 1): Principal => ({
    userId,
    role,
    sessionId: 's',
    emailVerified: true,
    authentication: { amr: ['pwd'], at: 0 },
  });
  it('lets only admins assign elevated roles', () => {
    expect(mayAssignRole(undefined, 'user')).to.equal(true);
    expect(mayAssignRole(undefined, 'admin')).to.equal(false);
    expect(mayAssignRole(as('moderator'), 'moderator')).to.equal(false);
    expect(mayAssignRole(as('admin'), 'admin')).to.equal(true);
  });
  it('lets users edit themselves, moderators plain users, admins anyone', () => {
    expect(mayUpdateProfile(as('user', 1), { id: 1, role: 'user' }, { first_name: 'X' })).to.equal(true);
    expect(mayUpdateProfile(as('user', 1), { id: 2, role: 'user' }, { first_name: 'X' })).to.equal(false);
    expect(mayUpdateProfile(as('moderator', 1), { id: 2, role: 'user' }, { first_name: 'X' })).to.equal(true);
    expect(mayUpdateProfile(as('moderator', 1), { id: 2, role: 'moderator' }, { first_name: 'X' })).to.equal(false);
    expect(mayUpdateProfile(as('moderator', 1), { id: 2, role: 'admin' }, { first_name: 'X' })).to.equal(false);
    expect(mayUpdateProfile(as('admin', 1), { id: 2, role: 'admin' }, { first_name: 'X' })).to.equal(true);
  });
  it("lets no moderator change another user's email; the user themself and admins may", () => {
    expect(mayUpdateProfile(as('moderator', 1), { id: 2, role: 'user' }, { email: 'x@example.com' })).to.equal(false);
    expect(mayUpdateProfile(as('moderator', 1), { id: 1, role: 'moderator' }, { email: 'x@example.com' })).to.equal(
      true,
    );
    expect(mayUpdateProfile(as('user', 2), { id: 2, role: 'user' }, { email: 'x@example.com' })).to.equal(true);
    expect(mayUpdateProfile(as('admin', 1), { id: 2, role: 'user' }, { email: 'x@example.com' })).to.equal(true);
  });
});
