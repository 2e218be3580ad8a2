// Dredd hooks, in TypeScript (dredd-hooks.cjs hands Dredd's registry to the
// functions below): set up the situation each documented response needs,
// then check the real body against the response's schema in the spec (Dredd
// itself only compares keys). Setups are keyed by operationId and status, so
// editing a summary changes nothing; a setup that matches no documented
// response fails the whole run, so a renamed operation can't silently skip.
import type { ValidateFunction } from 'ajv';
import knex, { type Knex } from 'knex';
import { appendFileSync } from 'node:fs';
import { loadSpec, specAjv, type SpecDocument } from '../../src/contract/spec.js';
import { lastOutboxId, tokenFromOutbox } from '../support/outbox.js';
import { awayFromStepBoundary, codeFor } from '../support/totp.js';
import { SUBJECTS } from '../support/smtp.js';
import { documentedResponses, type DocumentedResponse } from './transactions.js';

/** What the hooks touch of a Dredd transaction. */
export interface Transaction {
  name: string;
  port?: string;
  fullPath: string;
  fail?: string | false;
  hiddenTable?: string;
  request: { uri: string; body: string; headers: Record<string, string> };
  real?: { statusCode: number; body: string; headers: Record<string, string> };
}
type Done = () => void;
type Setup = (t: Transaction) => void | Promise<void>;

const env = process.env;
const BASE_URL = env.CONTRACT_BASE_URL!;
const STRICT_URL = env.CONTRACT_STRICT_URL!; // USERS_LIST_REQUIRES_AUTH=true, limits of 1
const BUSY_URL = env.CONTRACT_BUSY_URL!; // the main database, no budget for hashing
const GATED_URL = env.CONTRACT_GATED_URL!; // the main database, REQUIRE_VERIFIED_EMAIL=true
const spec: SpecDocument = loadSpec();
const responses = documentedResponses(spec);
const byName = new Map(responses.map((r) => [r.name, r]));

const ajv = specAjv(spec);
// Response schemas in the spec are all $refs into components; compiled once each.
const bodyValidators = new Map<string, ValidateFunction>();
function bodyValidatorFor(response: DocumentedResponse): ValidateFunction {
  if (!bodyValidators.has(response.name)) {
    bodyValidators.set(response.name, ajv.compile({ $ref: `openapi${response.schemaRef}` }));
  }
  return bodyValidators.get(response.name)!;
}

// A connection of the hooks' own to the server's database, for provoking faults.
function openDatabase(url: string): Knex {
  if (url.startsWith('sqlite:')) {
    return knex({ client: 'sqlite3', connection: { filename: url.slice('sqlite:'.length) }, useNullAsDefault: true });
  }
  return knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
}

// ---- fixtures, made through the API itself ---------------------------------
interface Account {
  email: string;
  password: string;
  id: number;
  token: string;
}
const fixtures = {} as {
  adminToken: string;
  owner: Account;
  other: Account;
  passwordChanger: Account;
  /** Accounts whose email stays unverified (the registration link is never used). */
  unverified: Account;
  resender: Account;
  resendLimited: Account;
  /** Its registration link is used by `verifyEmail 200`. */
  verifier: Account;
  /** Closed by `closeAccount 200`. */
  closer: Account;
  /** Deleted by `deleteUser 200`; given a role, disabled, enabled and signed out by the others. */
  doomed: Account;
  managed: Account;
  /** Changes its email, then undoes it from the notice (`revertEmailChange 200`). */
  reverter: Account;
  /** Its old address is taken before it reverts (`revertEmailChange 409`). */
  revertBlocked: Account;
  /** Second-factor fixtures: each enrolled (or enrolling) for the one response it provokes. */
  mfa: Record<string, Enrolled>;
};
/** An account with an authenticator app: confirmed unless made with `confirm: false`. */
interface Enrolled extends Account {
  secret: string;
  recoveryCodes: string[];
}
let database: Knex | undefined;
/** The hooks' own requests name themselves, so a transaction can pose as the same client. */
const HOOKS_USER_AGENT = 'contract-hooks';

async function call(
  method: string,
  path: string,
  {
    body,
    token,
    baseUrl = BASE_URL,
    expect = 'ok',
  }: { body?: unknown; token?: string; baseUrl?: string; expect?: 'ok' | number } = {},
): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': HOOKS_USER_AGENT };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const expected = expect === 'ok' ? res.ok : res.status === expect;
  if (!expected) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub: string; jti: string };
const subjectOf = (token: string) => Number(claimsOf(token).sub);
async function registerUser(tag: string, overrides: Record<string, string> = {}): Promise<Account> {
  const user = {
    email: `${tag}@example.com`,
    user_name: tag,
    first_name: 'Contract',
    last_name: 'Test',
    password: `${tag}-password`,
    ...overrides,
  };
  const { JWT } = await call('POST', '/users', { body: user });
  return { ...user, id: subjectOf(JWT), token: JWT };
}

/**
 * A wrong password to `path` (a POST) past the strict instance's one allowed
 * per account: the limit is shared by password changes, closing and
 * reauthenticating, so the place may already be taken by another setup.
 */
function wrongPasswordPastTheLimit(path: string): Setup {
  return async (t) => {
    useStrictInstance(t);
    const { access_token } = await call('POST', '/login', {
      body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
      baseUrl: STRICT_URL,
    });
    const wrong = { password: 'not-the-password' };
    await fetch(`${STRICT_URL}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${access_token}` },
      body: JSON.stringify(wrong),
    });
    setToken(t, access_token);
    setBody(t, wrong);
  };
}

/** A registered account that has started (and with `confirm`, confirmed) an authenticator app. */
async function enrolledUser(tag: string, confirm: boolean): Promise<Enrolled> {
  const account = await registerUser(tag);
  const { secret } = await call('POST', '/account/mfa/totp', { token: account.token });
  if (!confirm) return { ...account, secret, recoveryCodes: [] };
  const { recovery_codes } = await call('POST', '/account/mfa/totp/confirm', {
    token: account.token,
    body: { code: codeFor(secret, -1) },
  });
  return { ...account, secret, recoveryCodes: recovery_codes };
}

/** A pending login's mfa_token (the 202's). */
async function mfaTokenOf(account: Account): Promise<string> {
  const { mfa_token } = await call('POST', '/login', { body: { email: account.email, password: account.password } });
  return mfa_token;
}

/** Wrong codes to `path` until the account's limit of wrong codes (MFA_MAX_FAILURES_PER_USER, 10) is full. */
async function fillMfaFailures(account: Enrolled, path: string): Promise<void> {
  for (let i = 0; i < 10; i += 1) {
    await fetch(BASE_URL + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
      body: JSON.stringify({ code: codeFor(account.secret) === '000000' ? '000001' : '000000' }),
    });
  }
}

/** A session on the strict instance (REAUTH_MAX_AGE_SECONDS=1) whose authentication is no longer recent. */
async function staleSessionOnStrict(t: Transaction): Promise<void> {
  useStrictInstance(t);
  const { access_token } = await call('POST', '/login', {
    body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
    baseUrl: STRICT_URL,
  });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  setToken(t, access_token);
}

/** A new session of the account: its login answer. */
const loginAs = (account: Account): Promise<{ access_token: string; refresh_token: string }> =>
  call('POST', '/login', { body: { email: account.email, password: account.password } });

/** The documented response a transaction stands for, by its Dredd name. */
const responseOf = (t: Transaction) => byName.get(t.name);

export async function beforeAll(transactions: Transaction[], done: Done): Promise<void> {
  try {
    const keys = new Set(responses.map((r) => r.key));
    const unknown = Object.keys(setups).filter((key) => !keys.has(key));
    const names = new Set(transactions.map((t) => t.name));
    const missing = responses.filter((r) => !names.has(r.name)).map((r) => r.key);
    if (unknown.length > 0 || missing.length > 0) {
      const message = `hooks name no documented response: ${unknown.join('; ')}; Dredd made no transaction for: ${missing.join('; ')}`;
      console.error(message);
      for (const transaction of transactions) transaction.fail = message;
    }
    database = openDatabase(env.CONTRACT_DATABASE_URL!);
    const login = await call('POST', '/login', { body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } });
    fixtures.adminToken = login.access_token;
    fixtures.owner = await registerUser('owner');
    fixtures.other = await registerUser('other');
    fixtures.passwordChanger = await registerUser('changer');
    fixtures.unverified = await registerUser('unverified');
    fixtures.resender = await registerUser('resender');
    fixtures.resendLimited = await registerUser('resend_limited');
    fixtures.verifier = await registerUser('verifier');
    fixtures.closer = await registerUser('closer');
    fixtures.doomed = await registerUser('doomed');
    fixtures.managed = await registerUser('managed');
    fixtures.reverter = await registerUser('reverter');
    fixtures.revertBlocked = await registerUser('revert_blocked');
    fixtures.mfa = {};
    // Confirmed with the previous step's code: this step's is left for the transaction.
    await awayFromStepBoundary(10_000);
    for (const tag of ['mfa_login', 'mfa_complete', 'mfa_disabled', 'mfa_capped', 'mfa_active', 'mfa_remover']) {
      fixtures.mfa[tag] = await enrolledUser(tag, true);
    }
    for (const tag of ['mfa_remove_capped', 'mfa_regenerator', 'mfa_regenerate_capped']) {
      fixtures.mfa[tag] = await enrolledUser(tag, true);
    }
    for (const tag of ['mfa_confirmer', 'mfa_confirm_capped']) fixtures.mfa[tag] = await enrolledUser(tag, false);
    fixtures.mfa.mfa_enroller = { ...(await registerUser('mfa_enroller')), secret: '', recoveryCodes: [] };
    // The login example's credentials belong to a real account.
    const loginExample = exampleOf('login');
    await registerUser('example', { email: loginExample.email, password: loginExample.password });
  } catch (error) {
    for (const transaction of transactions) transaction.fail = `fixtures failed: ${(error as Error).message}`;
  }
  done();
}

export async function afterAll(_transactions: Transaction[], done: Done): Promise<void> {
  await database?.destroy();
  done();
}

// ---- helpers for the setups -------------------------------------------------
const setBody = (t: Transaction, body: unknown) => {
  t.request.body = typeof body === 'string' ? body : JSON.stringify(body);
};
const setToken = (t: Transaction, token: string) => {
  t.request.headers.Authorization = `Bearer ${token}`;
};
const dropToken = (t: Transaction) => {
  delete t.request.headers.Authorization;
};
// Sends the transaction to the strict instance instead.
const useStrictInstance = (t: Transaction) => {
  t.port = new URL(STRICT_URL).port;
};
// Sends the transaction to the instance whose hashing queue is always full.
const useBusyInstance = (t: Transaction) => {
  t.port = new URL(BUSY_URL).port;
};
// Sends the transaction, with an unverified account's token, to the instance requiring verified emails.
const asUnverifiedOnGatedInstance = (t: Transaction) => {
  t.port = new URL(GATED_URL).port;
  setToken(t, fixtures.unverified.token);
};
const setPath = (t: Transaction, path: string) => {
  t.fullPath = path;
  t.request.uri = path;
};
// A real database fault from outside the request path: a table disappears
// for the duration of this one request (see afterEach), as the contract asks.
const hideTable = (table: string) => async (t: Transaction) => {
  await database!.schema.renameTable(table, `${table}_hidden_by_contract_test`);
  t.hiddenTable = table;
};
const hideUsersTable = hideTable('users');
// The most common setups: the owner's token, with the users table there or gone.
const asOwner = (t: Transaction) => {
  setToken(t, fixtures.owner.token);
};
const asOwnerWithUsersTableGone = async (t: Transaction) => {
  asOwner(t);
  await hideUsersTable(t);
};

/** A copy of the request example the spec gives for an operation (by id) or a transaction's operation. */
function exampleOf(operationId: string): Record<string, any> {
  for (const methods of Object.values(spec.paths)) {
    for (const operation of Object.values(methods)) {
      if (operation.operationId !== operationId) continue;
      const body = operation.requestBody as { content: Record<string, { example: Record<string, any> }> };
      return structuredClone(body.content['application/json'].example);
    }
  }
  throw new Error(`no operation ${operationId}`);
}
const example = (t: Transaction) => exampleOf(responseOf(t)!.operationId);

/** Asks the main instance for a reset link for `email` and reads its token from the outbox. */
async function resetTokenFor(email: string): Promise<string> {
  const before = await lastOutboxId(database!);
  await call('POST', '/password/forgot', { body: { email } });
  return tokenFromOutbox(database!, email, SUBJECTS.reset, before);
}

// Keyed by operationId and status. Every documented response has a setup;
// an empty one means the spec's examples already provoke it.
const setups: Record<string, Setup> = {
  'createUser 201': (t) => {
    setBody(t, { ...example(t), email: 'created@example.com', user_name: 'created' });
  },
  'createUser 400': (t) => {
    setBody(t, { ...example(t), email: 'not-an-email' });
  },
  'createUser 401': (t) => {
    setToken(t, 'not.a.valid-token');
  },
  'createUser 403': (t) => {
    setBody(t, { ...example(t), email: 'wannabe@example.com', user_name: 'wannabe', role: 'admin' });
    setToken(t, fixtures.owner.token);
  },
  'createUser 409': (t) => {
    setBody(t, { ...example(t), email: fixtures.owner.email.toUpperCase(), user_name: 'someone_new' });
  },
  'createUser 429': async (t) => {
    useStrictInstance(t);
    const first = { ...example(t), email: 'first-from-here@example.com', user_name: 'first_from_here' };
    await call('POST', '/users', { body: first, baseUrl: STRICT_URL }); // the one registration allowed
  },
  'createUser 500': hideUsersTable,
  'createUser 503': (t) => {
    useBusyInstance(t);
    setBody(t, { ...example(t), email: 'busy@example.com', user_name: 'busy' });
  },

  'listUsers 200': () => {},
  'listUsers 400': (t) => {
    setPath(t, '/users/pagination?page=0&per_page=10');
  },
  'listUsers 401': useStrictInstance,
  'listUsers 403': asUnverifiedOnGatedInstance,
  'listUsers 500': hideUsersTable,

  'getUser 200': (t) => {
    setToken(t, fixtures.adminToken);
  },
  'getUser 400': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/not-a-number');
  },
  'getUser 401': dropToken,
  'getUser 403': (t) => {
    asUnverifiedOnGatedInstance(t);
    setPath(t, `/users/${fixtures.unverified.id}`);
  },
  'getUser 404': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/999999');
  },
  'getUser 500': async (t) => {
    setToken(t, fixtures.adminToken);
    await hideUsersTable(t);
  },

  'updateUser 200': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
  },
  'updateUser 400': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
    setBody(t, {});
  },
  'updateUser 401': dropToken,
  'updateUser 403': (t) => {
    setToken(t, fixtures.other.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
  },
  'updateUser 404': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/update/999999');
  },
  'updateUser 409': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
    setBody(t, { email: fixtures.other.email });
  },
  'updateUser 500': asOwnerWithUsersTableGone,

  'updateUserPassword 200': (t) => {
    setToken(t, fixtures.passwordChanger.token);
    setPath(t, `/users/update_password/${fixtures.passwordChanger.id}`);
    setBody(t, { existing_password: fixtures.passwordChanger.password, password: 'changed-password-1' });
  },
  'updateUserPassword 400': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, { existing_password: 'not-the-password', password: 'changed-password-1' });
  },
  'updateUserPassword 401': dropToken,
  'updateUserPassword 403': (t) => {
    setToken(t, fixtures.other.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
  },
  'updateUserPassword 409': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, '{"existing_password": ');
  },
  'updateUserPassword 429': async (t) => {
    useStrictInstance(t);
    const { access_token } = await call('POST', '/login', {
      body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
      baseUrl: STRICT_URL,
    });
    const path = `/users/update_password/${subjectOf(access_token)}`;
    const wrong = { existing_password: 'not-the-password', password: 'changed-password-1' };
    await call('PUT', path, { body: wrong, token: access_token, baseUrl: STRICT_URL, expect: 400 }); // the one allowed
    setToken(t, access_token);
    setPath(t, path);
    setBody(t, wrong);
  },
  'updateUserPassword 500': asOwnerWithUsersTableGone,
  'updateUserPassword 503': (t) => {
    useBusyInstance(t);
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, { existing_password: fixtures.owner.password, password: 'changed-password-2' });
  },

  'login 200': () => {},
  'login 400': (t) => {
    setBody(t, { email: 'not-an-email', password: 'x' });
  },
  'login 401': (t) => {
    setBody(t, { ...example(t), password: 'wrong-password' });
  },
  'login 403': (t) => {
    t.port = new URL(GATED_URL).port;
    setBody(t, { email: fixtures.unverified.email, password: fixtures.unverified.password });
  },
  'login 409': (t) => {
    setBody(t, '{"email": "broken');
  },
  'login 429': async (t) => {
    useStrictInstance(t);
    const { email } = example(t);
    await call('POST', '/login', { body: { email, password: 'a-wrong-guess' }, baseUrl: STRICT_URL, expect: 401 });
  },
  'login 500': hideUsersTable,
  'login 503': useBusyInstance,

  'login 202': (t) => {
    setBody(t, { email: fixtures.mfa.mfa_login.email, password: fixtures.mfa.mfa_login.password });
  },

  'completeLogin 200': async (t) => {
    const account = fixtures.mfa.mfa_complete;
    setBody(t, { mfa_token: await mfaTokenOf(account), code: codeFor(account.secret) });
  },
  'completeLogin 400': (t) => {
    setBody(t, { mfa_token: 'too-short', code: '123456' });
  },
  'completeLogin 401': () => {}, // the example's mfa_token belongs to no login
  'completeLogin 403': async (t) => {
    const account = fixtures.mfa.mfa_disabled;
    const mfa_token = await mfaTokenOf(account);
    await call('POST', `/admin/users/${account.id}/disable`, { token: fixtures.adminToken });
    setBody(t, { mfa_token, code: codeFor(account.secret) });
  },
  'completeLogin 409': (t) => {
    setBody(t, '{"mfa_token": ');
  },
  'completeLogin 429': async (t) => {
    const account = fixtures.mfa.mfa_capped;
    for (let round = 0; round < 2; round += 1) {
      const mfa_token = await mfaTokenOf(account);
      for (let i = 0; i < 5; i += 1) {
        await call('POST', '/login/mfa', { body: { mfa_token, code: String(100_000 + i) }, expect: 401 });
      }
    }
    setBody(t, { mfa_token: await mfaTokenOf(account), code: codeFor(account.secret) });
  },
  'completeLogin 500': hideTable('mfa_challenges'),

  'startTotpEnrollment 200': (t) => {
    setToken(t, fixtures.mfa.mfa_enroller.token);
  },
  'startTotpEnrollment 401': dropToken,
  'startTotpEnrollment 403': staleSessionOnStrict,
  'startTotpEnrollment 409': (t) => {
    setToken(t, fixtures.mfa.mfa_active.token);
  },
  'startTotpEnrollment 500': async (t) => {
    setToken(t, fixtures.mfa.mfa_enroller.token);
    await hideTable('totp_factors')(t);
  },

  'confirmTotpEnrollment 200': (t) => {
    const account = fixtures.mfa.mfa_confirmer;
    setToken(t, account.token);
    setBody(t, { code: codeFor(account.secret) });
  },
  'confirmTotpEnrollment 400': (t) => {
    setToken(t, fixtures.mfa.mfa_confirm_capped.token);
    setBody(t, { code: 'abc' });
  },
  'confirmTotpEnrollment 401': dropToken,
  'confirmTotpEnrollment 403': staleSessionOnStrict,
  'confirmTotpEnrollment 409': asOwner, // no enrolment in progress
  'confirmTotpEnrollment 429': async (t) => {
    const account = fixtures.mfa.mfa_confirm_capped;
    await fillMfaFailures(account, '/account/mfa/totp/confirm');
    setToken(t, account.token);
    setBody(t, { code: codeFor(account.secret) });
  },
  'confirmTotpEnrollment 500': async (t) => {
    setToken(t, fixtures.mfa.mfa_confirmer.token);
    await hideTable('totp_factors')(t);
  },

  'removeTotp 200': (t) => {
    const account = fixtures.mfa.mfa_remover;
    setToken(t, account.token);
    setBody(t, { recovery_code: account.recoveryCodes[0] });
  },
  'removeTotp 400': (t) => {
    setToken(t, fixtures.mfa.mfa_active.token);
    setBody(t, { code: 'abc' });
  },
  'removeTotp 401': dropToken,
  'removeTotp 403': staleSessionOnStrict,
  'removeTotp 409': asOwner, // no factor active
  'removeTotp 429': async (t) => {
    const account = fixtures.mfa.mfa_remove_capped;
    await fillMfaFailures(account, '/account/mfa/totp/remove');
    setToken(t, account.token);
    setBody(t, { code: codeFor(account.secret) });
  },
  'removeTotp 500': async (t) => {
    setToken(t, fixtures.mfa.mfa_active.token);
    setBody(t, { recovery_code: fixtures.mfa.mfa_active.recoveryCodes[0] });
    await hideTable('recovery_codes')(t);
  },

  'regenerateRecoveryCodes 200': (t) => {
    const account = fixtures.mfa.mfa_regenerator;
    setToken(t, account.token);
    setBody(t, { recovery_code: account.recoveryCodes[0] });
  },
  'regenerateRecoveryCodes 400': (t) => {
    setToken(t, fixtures.mfa.mfa_active.token);
    setBody(t, { code: 'abc' });
  },
  'regenerateRecoveryCodes 401': dropToken,
  'regenerateRecoveryCodes 403': staleSessionOnStrict,
  'regenerateRecoveryCodes 409': asOwner,
  'regenerateRecoveryCodes 429': async (t) => {
    const account = fixtures.mfa.mfa_regenerate_capped;
    await fillMfaFailures(account, '/account/mfa/recovery-codes');
    setToken(t, account.token);
    setBody(t, { code: codeFor(account.secret) });
  },
  'regenerateRecoveryCodes 500': async (t) => {
    setToken(t, fixtures.mfa.mfa_active.token);
    setBody(t, { recovery_code: fixtures.mfa.mfa_active.recoveryCodes[1] });
    await hideTable('recovery_codes')(t);
  },

  'revertEmailChange 200': async (t) => {
    const account = fixtures.reverter;
    const before = await lastOutboxId(database!);
    await call('PUT', `/users/update/${account.id}`, { token: account.token, body: { email: 'moved@example.net' } });
    setBody(t, { token: await tokenFromOutbox(database!, account.email, SUBJECTS.emailChanged, before) });
  },
  'revertEmailChange 400': () => {}, // the example's token belongs to no change
  // The old address was registered by someone else meanwhile: it can't come back.
  'revertEmailChange 409': async (t) => {
    const account = fixtures.revertBlocked;
    const before = await lastOutboxId(database!);
    await call('PUT', `/users/update/${account.id}`, { token: account.token, body: { email: 'blocked@example.net' } });
    const token = await tokenFromOutbox(database!, account.email, SUBJECTS.emailChanged, before);
    await registerUser('revert_taker', { email: account.email });
    setBody(t, { token });
  },
  'revertEmailChange 500': hideTable('email_revert_tokens'),

  'reauthenticate 200': (t) => {
    setToken(t, fixtures.owner.token);
    setBody(t, { password: fixtures.owner.password });
  },
  'reauthenticate 400': (t) => {
    setToken(t, fixtures.owner.token);
    setBody(t, { password: 'not-the-password' });
  },
  'reauthenticate 401': dropToken,
  'reauthenticate 403': (t) => {
    asUnverifiedOnGatedInstance(t);
    setBody(t, { password: fixtures.unverified.password });
  },
  'reauthenticate 409': (t) => {
    setToken(t, fixtures.owner.token);
    setBody(t, '{"password": ');
  },
  'reauthenticate 429': wrongPasswordPastTheLimit('/account/reauthenticate'),
  'reauthenticate 500': async (t) => {
    setToken(t, fixtures.owner.token);
    setBody(t, { password: fixtures.owner.password });
    await hideUsersTable(t);
  },
  'reauthenticate 503': (t) => {
    useBusyInstance(t);
    setToken(t, fixtures.owner.token);
    setBody(t, { password: fixtures.owner.password });
  },

  'logout 200': async (t) => {
    const { access_token } = await call('POST', '/login', {
      body: { email: fixtures.other.email, password: fixtures.other.password },
    });
    setToken(t, access_token);
  },
  'logout 401': dropToken,
  'logout 500': asOwnerWithUsersTableGone,

  'checkToken 200': asOwner,
  'checkToken 401': dropToken,
  'checkToken 403': asUnverifiedOnGatedInstance,
  'checkToken 500': asOwnerWithUsersTableGone,

  'requestPasswordReset 202': () => {},
  'requestPasswordReset 400': (t) => {
    setBody(t, { email: 'not-an-email' });
  },
  'requestPasswordReset 409': (t) => {
    setBody(t, '{"email": ');
  },
  'requestPasswordReset 429': async (t) => {
    useStrictInstance(t);
    await call('POST', '/password/forgot', { body: example(t), baseUrl: STRICT_URL, expect: 202 }); // the one allowed
  },
  'requestPasswordReset 500': hideTable('rate_limit_events'),

  'resetPassword 200': async (t) => {
    setBody(t, { token: await resetTokenFor(fixtures.other.email), password: 'reset-password-from-link' });
  },
  'resetPassword 400': () => {}, // the example's token belongs to no request
  'resetPassword 409': (t) => {
    setBody(t, '{"token": ');
  },
  'resetPassword 500': async (t) => {
    setBody(t, { token: await resetTokenFor(fixtures.owner.email), password: 'reset-password-from-link' });
    await hideTable('password_reset_tokens')(t);
  },
  'resetPassword 503': async (t) => {
    useBusyInstance(t);
    setBody(t, { token: await resetTokenFor(fixtures.owner.email), password: 'reset-password-from-link' });
  },

  'getAccount 200': asOwner,
  'getAccount 401': dropToken,
  'getAccount 403': asUnverifiedOnGatedInstance,
  'getAccount 500': asOwnerWithUsersTableGone,

  'closeAccount 200': (t) => {
    setToken(t, fixtures.closer.token);
    setBody(t, { password: fixtures.closer.password });
  },
  'closeAccount 400': (t) => {
    setToken(t, fixtures.owner.token);
    setBody(t, { password: 'not-the-password' });
  },
  'closeAccount 401': dropToken,
  'closeAccount 409': (t) => {
    setToken(t, fixtures.adminToken); // the only admin
    setBody(t, { password: env.ADMIN_PASSWORD });
  },
  'closeAccount 429': wrongPasswordPastTheLimit('/account/delete'),
  'closeAccount 500': asOwnerWithUsersTableGone,
  'closeAccount 503': (t) => {
    useBusyInstance(t);
    setToken(t, fixtures.owner.token);
  },

  'listSessions 200': asOwner,
  'listSessions 401': dropToken,
  'listSessions 403': asUnverifiedOnGatedInstance,
  'listSessions 500': asOwnerWithUsersTableGone,

  'endOtherSessions 200': asOwner,
  'endOtherSessions 401': dropToken,
  'endOtherSessions 403': asUnverifiedOnGatedInstance,
  'endOtherSessions 500': asOwnerWithUsersTableGone,

  'endSession 200': async (t) => {
    const { access_token } = await call('POST', '/login', {
      body: { email: fixtures.owner.email, password: fixtures.owner.password },
    });
    setToken(t, fixtures.owner.token);
    setPath(t, `/sessions/${claimsOf(access_token).jti}`);
  },
  'endSession 400': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, '/sessions/not-a-session-id');
  },
  'endSession 401': dropToken,
  'endSession 403': asUnverifiedOnGatedInstance,
  'endSession 404': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/sessions/${claimsOf(fixtures.other.token).jti}`); // another user's
  },
  'endSession 500': asOwnerWithUsersTableGone,

  ...adminSetups(),

  'refreshToken 200': async (t) => {
    setBody(t, { refresh_token: (await loginAs(fixtures.owner)).refresh_token });
  },
  'refreshToken 400': (t) => {
    setBody(t, { refresh_token: 'too-short' });
  },
  'refreshToken 401': () => {}, // the example's refresh token belongs to no session
  'refreshToken 409': async (t) => {
    // The same client sends a token again moments after exchanging it (two requests racing from one app).
    const { refresh_token } = await loginAs(fixtures.owner);
    await call('POST', '/token/refresh', { body: { refresh_token } });
    setBody(t, { refresh_token });
    t.request.headers['User-Agent'] = HOOKS_USER_AGENT;
  },
  'refreshToken 500': async (t) => {
    setBody(t, { refresh_token: (await loginAs(fixtures.owner)).refresh_token });
    await hideTable('refresh_tokens')(t);
  },

  'getSigningKeys 200': () => {},

  'verifyEmail 200': async (t) => {
    setBody(t, { token: await tokenFromOutbox(database!, fixtures.verifier.email, SUBJECTS.verification) });
  },
  'verifyEmail 400': () => {}, // the example's token belongs to no link
  'verifyEmail 409': (t) => {
    setBody(t, '{"token": ');
  },
  'verifyEmail 500': hideTable('email_verification_tokens'),

  'resendVerificationEmail 202': (t) => {
    setToken(t, fixtures.resender.token);
  },
  'resendVerificationEmail 401': dropToken,
  'resendVerificationEmail 409': (t) => {
    setToken(t, fixtures.adminToken); // an operator-made account starts verified
  },
  'resendVerificationEmail 429': async (t) => {
    const token = fixtures.resendLimited.token;
    for (let i = 0; i < 3; i++) await call('POST', '/email/resend', { token, expect: 202 }); // the hour's three
    setToken(t, token);
  },
  'resendVerificationEmail 500': async (t) => {
    setToken(t, fixtures.resender.token);
    await hideTable('rate_limit_events')(t);
  },

  'checkLiveness 200': () => {},
  'checkReadiness 200': () => {},
  // Knex's migration table gone: the migrations can't be confirmed.
  'checkReadiness 503': hideTable('knex_migrations'),
};

/**
 * The admin operations share their refusals: a bad id (400), no token (401),
 * a plain user's token (403), no such user (404), the users table gone
 * (500); their 200s act on fixtures, their 409s on the only admin.
 */
function adminSetups(): Record<string, Setup> {
  const adminOperations: [string, string, Record<string, unknown>?][] = [
    ['deleteUser', ''],
    ['setUserRole', '/role', { role: 'moderator' }],
    ['disableUser', '/disable'],
    ['enableUser', '/enable'],
    ['endUserSessions', '/sessions'],
    ['resetUserMfa', '/mfa'],
  ];
  const entries: [string, Setup][] = [];
  for (const [operationId, suffix, body] of adminOperations) {
    const on = (t: Transaction, id: number | string, token = fixtures.adminToken) => {
      setToken(t, token);
      setPath(t, `/admin/users/${id}${suffix}`);
      if (body) setBody(t, body);
    };
    entries.push(
      [`${operationId} 200`, (t) => on(t, operationId === 'deleteUser' ? fixtures.doomed.id : fixtures.managed.id)],
      [`${operationId} 400`, (t) => on(t, 'not-a-number')],
      [
        `${operationId} 401`,
        (t) => {
          on(t, fixtures.managed.id);
          dropToken(t);
        },
      ],
      [`${operationId} 403`, (t) => on(t, fixtures.managed.id, fixtures.owner.token)],
      [`${operationId} 404`, (t) => on(t, 999999)],
      [
        `${operationId} 500`,
        async (t) => {
          on(t, fixtures.managed.id);
          await hideUsersTable(t);
        },
      ],
    );
  }
  // The two reads: an unknown match or kind is a 400; the rest as above.
  for (const [operationId, path, invalid] of [
    ['searchUsers', '/admin/users?q=jane', '/admin/users?q=jane&match=fuzzy'],
    ['listAuditEvents', '/admin/audit?type=login_failure', '/admin/audit?type=no_such_kind'],
  ] as const) {
    const reading = (t: Transaction, at: string, token = fixtures.adminToken) => {
      setToken(t, token);
      setPath(t, at);
    };
    entries.push(
      [`${operationId} 200`, (t) => reading(t, path)],
      [`${operationId} 400`, (t) => reading(t, invalid)],
      [
        `${operationId} 401`,
        (t) => {
          reading(t, path);
          dropToken(t);
        },
      ],
      [`${operationId} 403`, (t) => reading(t, path, fixtures.owner.token)],
      [
        `${operationId} 500`,
        async (t) => {
          reading(t, path);
          await hideUsersTable(t);
        },
      ],
    );
  }
  // The only admin can't be deleted, demoted or disabled.
  const onlyAdmin = (suffix: string, body?: unknown) => (t: Transaction) => {
    setToken(t, fixtures.adminToken);
    setPath(t, `/admin/users/${subjectOf(fixtures.adminToken)}${suffix}`);
    if (body) setBody(t, body);
  };
  entries.push(
    ['deleteUser 409', onlyAdmin('')],
    ['setUserRole 409', onlyAdmin('/role', { role: 'user' })],
    ['disableUser 409', onlyAdmin('/disable')],
  );
  return Object.fromEntries(entries);
}

export async function beforeEach(transaction: Transaction, done: Done): Promise<void> {
  try {
    const response = responseOf(transaction);
    const setup = response && setups[response.key];
    if (!setup) transaction.fail = 'no setup for this documented response';
    else await setup(transaction);
  } catch (error) {
    transaction.fail = `setup failed: ${(error as Error).message}`;
  }
  done();
}

// Express sends `application/json; charset=utf-8`; Dredd compares the header
// to the spec's media type literally. The parameter is allowed (and
// meaningless: JSON is UTF-8), so accept exactly that, and nothing else.
const JSON_CONTENT_TYPE = /^application\/json(; ?charset=utf-8)?$/i;
export function beforeEachValidation(transaction: Transaction): void {
  const headers = transaction.real?.headers ?? {};
  const name = Object.keys(headers).find((h) => h.toLowerCase() === 'content-type');
  if (name && JSON_CONTENT_TYPE.test(headers[name])) headers[name] = 'application/json';
}

export async function afterEach(transaction: Transaction, done: Done): Promise<void> {
  try {
    if (transaction.hiddenTable) {
      await database!.schema.renameTable(`${transaction.hiddenTable}_hidden_by_contract_test`, transaction.hiddenTable);
    }
    const response = responseOf(transaction);
    const real = transaction.real;
    if (response && real) {
      const problems = checkResponse(response, real);
      if (problems) transaction.fail = problems;
    }
    if (env.CONTRACT_REPORT) {
      appendFileSync(
        env.CONTRACT_REPORT,
        JSON.stringify({ name: transaction.name, fail: transaction.fail || false }) + '\n',
      );
    }
  } catch (error) {
    transaction.fail = `after hook failed: ${(error as Error).message}`;
  }
  done();
}

function checkResponse(response: DocumentedResponse, real: NonNullable<Transaction['real']>): string {
  if (real.statusCode !== response.status) return `status ${real.statusCode}, documented ${response.status}`;
  let body: unknown;
  try {
    body = JSON.parse(real.body);
  } catch {
    return `body is not JSON: ${real.body}`;
  }
  const validate = bodyValidatorFor(response);
  if (!validate(body)) return `body does not match the spec: ${ajv.errorsText(validate.errors)} in ${real.body}`;
  return '';
}
