#!/usr/bin/env node
// The operator's command line: `npm run cli -- <command>` or, installed, `user-service <command>`.
// Reads the same settings as the server (DATABASE_URL and the rest).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { openDomain, type Domain } from './compose.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DomainError } from './domain/errors.js';
import type { QueuedMail } from './domain/ports.js';
import { ROLES, type Role } from './domain/model.js';
import { normalizeProfile } from './domain/normalize.js';
import { componentSchemaValidator } from './contract/spec.js';
import { createLogger } from './logger.js';
import { migrateToLatest, openDatabase, unlockMigrations } from './storage/database.js';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  create-user --email EMAIL --user-name NAME [--first-name F] [--last-name L] [--role user|moderator|admin]
      Creates an account with any role (the first admin, say). The password is
      read from standard input, or asked for when run in a terminal.
  reset-password --email EMAIL
      Sets a new password (read like the above) and ends every session of the account.
  revoke-sessions --email EMAIL
      Ends every session of the account: its tokens stop working at once.
  disable-user --email EMAIL / enable-user --email EMAIL
      Disables the account (its sessions end, its login answers 403) or
      enables it again. Not the last admin.
  set-role --email EMAIL --role user|moderator|admin
      Changes the role; it applies from the user's next request. Not the last admin.
  delete-user --email EMAIL
      Deletes the account as closing it does: its sessions, links and queued
      mail go, the audit trail keeps ids and kinds only. Not the last admin.
  reset-mfa --email EMAIL
      For a user who lost the authenticator app and the recovery codes:
      removes the second factor and ends every session; the password alone
      signs in until they enrol again. Check who is asking first.
  verify-email --email EMAIL
      Marks the account's email verified on your word (with
      REQUIRE_VERIFIED_EMAIL, lets it in without the link).
  keys list
      The token signing keys (ES256) and what each is doing: standby (published,
      signs when promoted), next (published, signing soon), signing, verifying
      (tokens it signed are still valid), expired, retired.
  keys rotate
      Schedules the standby key, published since it was made, to sign once
      every verifier can have fetched it (JWKS_MAX_AGE_SECONDS + 2 s after it
      was made: often at once), and publishes a new standby. The old key stays
      published until its last token expires. No restart: every instance
      reads the keys every second.
  keys retire KID
      For a leaked key: its tokens are refused within a second on every
      instance, and it leaves the JWKS. If it was signing, the standby signs
      at once: a key that never signed and that verifiers already hold. If the
      database and SIGNING_KEYS_SECRET leaked, retire the standby too: a key
      made then takes over. Sessions go on: clients get new tokens with their
      refresh token.
  outbox [--id N]
      Lists the newest messages of the mail outbox (without SMTP_URL, mail
      stays there), or shows one whole.
  migrate [--unlock]
      Applies pending migrations (with progress). --unlock frees the lock left
      by an instance that crashed while migrating.
  help
      Shows this text.

Settings come from the environment, as for the server (DATABASE_URL, ...).
Exit code: 0 on success, 1 on failure, 2 on a usage error.`;

class UsageError extends Error {}

const OPERATOR = () => ({ address: 'cli', requestId: `cli-${randomUUID()}` });

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  if (command === 'keys') return manageKeys(loadConfig(), rest);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      email: { type: 'string' },
      'user-name': { type: 'string' },
      'first-name': { type: 'string' },
      'last-name': { type: 'string' },
      role: { type: 'string' },
      unlock: { type: 'boolean' },
      id: { type: 'string' },
    },
  });
  const config = loadConfig();
  switch (command) {
    case 'migrate':
      return migrate(config, values.unlock === true);
    case 'create-user':
      return withDomain(config, (domain) => createUser(domain, values));
    case 'reset-password':
      return withDomain(config, (domain) => resetPassword(domain, required(values.email, '--email')));
    case 'outbox':
      return withDomain(config, (domain) => showOutbox(domain, values.id));
    case 'revoke-sessions':
      return withDomain(config, (domain) => revokeSessions(domain, required(values.email, '--email')));
    case 'delete-user':
      return withDomain(config, (domain) => deleteUser(domain, required(values.email, '--email')));
    case 'disable-user':
    case 'enable-user': {
      const email = required(values.email, '--email');
      const disabling = command === 'disable-user';
      return withDomain(config, (domain) =>
        onAccount(
          domain,
          email,
          (id) =>
            disabling
              ? domain.administration.disable(undefined, id, OPERATOR())
              : domain.administration.enable(undefined, id, OPERATOR()),
          `${disabling ? 'Disabled' : 'Enabled'} the account of ${email}.`,
        ),
      );
    }
    case 'reset-mfa': {
      const email = required(values.email, '--email');
      return withDomain(config, (domain) =>
        onAccount(
          domain,
          email,
          (id) => domain.administration.resetSecondFactor(undefined, id, OPERATOR()),
          `Removed the second factor of ${email} and ended its sessions.`,
        ),
      );
    }
    case 'set-role': {
      const email = required(values.email, '--email');
      const role = roleOf(required(values.role, '--role'));
      return withDomain(config, (domain) =>
        onAccount(
          domain,
          email,
          (id) => domain.administration.setRole(undefined, id, role, OPERATOR()),
          `${email} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`,
        ),
      );
    }
    case 'verify-email':
      return withDomain(config, (domain) => verifyEmail(domain, required(values.email, '--email')));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function manageKeys(config: Config, [action, kid, ...extra]: string[]): Promise<void> {
  const expected = action === 'retire' ? 1 : 0;
  if (!['list', 'rotate', 'retire'].includes(action) || [kid, ...extra].filter(Boolean).length !== expected) {
    throw new UsageError('keys takes list, rotate, or retire KID');
  }
  await withDomain(config, async ({ signingKeys }) => {
    if (!signingKeys) {
      throw new Error('JWT_ALGORITHM=HS256: tokens are signed with JWT_SECRET, and there are no keys to manage');
    }
    if (action === 'rotate') {
      const key = await signingKeys.rotate(OPERATOR());
      console.log(
        `Scheduled key ${key.kid}: published since ${new Date(key.createdAt).toISOString()}, ` +
          `signing from ${new Date(key.signsFrom).toISOString()}.`,
      );
    } else if (action === 'retire') {
      if (!(await signingKeys.retire(kid, OPERATOR()))) throw new Error(`no key in use has the id ${kid}`);
      console.log(`Retired key ${kid}: every instance refuses its tokens within a second.`);
    }
    const time = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
    for (const key of await signingKeys.list()) {
      console.log(
        `${key.kid}  ${key.state.padEnd(9)}  created ${time(key.createdAt)}  signs from ${time(key.signsFrom)}` +
          (key.retiredAt === null ? '' : `  retired ${time(key.retiredAt)}`),
      );
    }
  });
}

async function migrate(config: Config, unlock: boolean): Promise<void> {
  const db = openDatabase(config.database);
  try {
    if (unlock) {
      await unlockMigrations(db);
      console.log('Migration lock freed.');
      return;
    }
    console.log('Applying pending migrations…');
    const applied = await migrateToLatest(db, (reason) => console.log(`  waiting: ${reason}`));
    for (const name of applied) console.log(`  applied ${name}`);
    console.log(
      applied.length === 0 ? 'Nothing to do: migrations are up to date.' : `Done: ${applied.length} applied.`,
    );
  } finally {
    await db.destroy();
  }
}

async function withDomain(config: Config, work: (domain: Domain) => Promise<void>): Promise<void> {
  // The CLI never creates the bootstrap admin as a side effect.
  const domain = await openDomain({ ...config, bootstrapAdmin: undefined }, createLogger('warn'));
  try {
    await work(domain);
  } finally {
    await domain.close();
  }
}

function roleOf(value: string): Role {
  if (!ROLES.includes(value as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

async function createUser(domain: Domain, values: Record<string, string | boolean | undefined>): Promise<void> {
  const role = roleOf(String(values.role ?? 'user'));
  const password = await readPassword();
  const account = normalizeProfile({
    email: required(values.email, '--email'),
    user_name: required(values['user-name'], '--user-name'),
    first_name: String(values['first-name'] ?? 'Admin'),
    last_name: String(values['last-name'] ?? 'User'),
    password,
    role,
  });
  refuseInvalid(domain, 'NewUser', account);
  try {
    const id = await domain.users.createAccount(account, OPERATOR());
    console.log(`Created ${role} ${account.email} with id ${id}.`);
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'conflict') {
      throw new Error('that email or user name already belongs to an account');
    }
    throw error;
  }
}

async function resetPassword(domain: Domain, email: string): Promise<void> {
  const password = await readPassword();
  refuseInvalid(domain, 'NewPassword', password);
  if (!(await domain.users.resetPassword(email, password, OPERATOR())))
    throw new Error(`no account has the email ${email}`);
  console.log(`Password of ${email} reset; every session of the account has ended.`);
}

function revokeSessions(domain: Domain, email: string): Promise<void> {
  return onAccount(
    domain,
    email,
    (id) => domain.administration.endSessions(undefined, id, OPERATOR()),
    (ended) => `Ended ${ended} session${ended === 1 ? '' : 's'} of ${email}.`,
  );
}

const OUTBOX_LISTING = 20;

/** Runs an admin task on the account with this email, in the operator's words. */
async function onAccount<T>(
  domain: Domain,
  email: string,
  task: (id: number) => Promise<T>,
  done: string | ((result: T) => string),
): Promise<void> {
  const id = await domain.administration.idOf(email);
  let result: T;
  try {
    if (id === undefined) throw new DomainError('user_not_found');
    result = await task(id);
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'user_not_found') {
      throw new Error(`no account has the email ${email}`);
    }
    if (error instanceof DomainError && error.kind === 'last_admin') {
      throw new Error(`${email} is the last admin: make another admin first`);
    }
    throw error;
  }
  console.log(typeof done === 'string' ? done : done(result));
}

function deleteUser(domain: Domain, email: string): Promise<void> {
  return onAccount(
    domain,
    email,
    (id) => domain.administration.delete(undefined, id, OPERATOR()),
    `Deleted the account of ${email}.`,
  );
}

async function verifyEmail(domain: Domain, email: string): Promise<void> {
  if (!(await domain.users.verifyEmailAsOperator(email, OPERATOR())))
    throw new Error(`no account has the email ${email}`);
  console.log(`The email ${email} is verified.`);
}

async function showOutbox(domain: Domain, id: string | undefined): Promise<void> {
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const state = (mail: QueuedMail) =>
    mail.sentAt !== null ? `sent ${time(mail.sentAt)}` : mail.lastError ? `waiting (${mail.lastError})` : 'waiting';
  if (id === undefined) {
    const messages = await domain.outbox.list(OUTBOX_LISTING);
    if (messages.length === 0) console.log('The outbox is empty.');
    for (const mail of messages) {
      console.log(`${mail.id}  ${time(mail.createdAt)}  ${mail.to}  ${mail.subject}  [${state(mail)}]`);
    }
    return;
  }
  if (!/^[1-9]\d*$/.test(id)) throw new UsageError('--id must be a message number');
  const mail = await domain.outbox.find(Number(id));
  if (!mail) throw new Error(`no message ${id} in the outbox`);
  console.log(
    `To: ${mail.to}\nSubject: ${mail.subject}\nQueued: ${time(mail.createdAt)}\nState: ${state(mail)}\n\n${mail.text}`,
  );
}

/** Input is checked against the same spec schemas the API validates with. */
function refuseInvalid(domain: Domain, schema: string, value: unknown): void {
  const problems = componentSchemaValidator(domain.spec, schema)(value);
  if (problems.length > 0) throw new UsageError(`invalid input: ${problems.join('; ')}`);
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** From a terminal, asked for without echo; otherwise the first line of standard input. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stdout.write('Password: ');
    const lines = createInterface({ input: process.stdin, terminal: true });
    (lines as unknown as { _writeToOutput: () => void })._writeToOutput = () => {}; // no echo
    const password = await new Promise<string>((resolve) => lines.once('line', resolve));
    lines.close();
    process.stdout.write('\n');
    return password;
  }
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const password = input.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError('give the password on standard input, e.g. printf %s "$PASSWORD" | …');
  return password;
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`Error: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof DomainError && error.problem) {
    console.error(`Error: the ${error.problem.field} ${error.problem.message}`);
    process.exit(2);
  }
  console.error(
    error instanceof ConfigError ? `Configuration error: ${error.message}` : `Error: ${(error as Error).message}`,
  );
  process.exit(1);
}
