// The second step of logins with a second factor: each request completes a
// pending login (an mfa_token from POST /login's 202) of its own with a
// recovery code of its own. Tokens and codes are single-use, so before each
// measurement accounts are enrolled and their logins started (their password
// hashes are not measured), and the measurement is a fixed number of
// completions, not a duration. Recovery codes, not TOTP codes: an account
// accepts each 30-second step once, and ten codes an account keep the
// preparation to a tenth of the accounts.
import autocannon from 'autocannon';
import { totpCodeAt } from '../../../src/domain/totp.js';
import { sampled } from '../measure.js';
import type { Scenario, Server } from '../types.js';

const COMPLETIONS = Number(process.env.BENCH_MFA_COMPLETIONS ?? 400);
const CODES_PER_ACCOUNT = 10;
const PREPARE_AT_ONCE = 8;
let prepared = 0;

async function call<T>(url: string, path: string, body: unknown, token?: string, address?: string): Promise<T> {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      // Each preparation from an address of its own (TRUST_PROXY=1), inside the login ceiling.
      ...(address ? { 'x-forwarded-for': address } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** In batches of PREPARE_AT_ONCE, so the preparation does not trip the hashing budget. */
async function inBatches<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  for (let start = 0; start < count; start += PREPARE_AT_ONCE) {
    const size = Math.min(PREPARE_AT_ONCE, count - start);
    made.push(...(await Promise.all(Array.from({ length: size }, (_, i) => make(start + i)))));
  }
  return made;
}

/** `count` pending logins, each with a recovery code of its account. */
async function pendingLogins(url: string, count: number): Promise<{ mfa_token: string; recovery_code: string }[]> {
  const accounts = await inBatches(Math.ceil(count / CODES_PER_ACCOUNT), async () => {
    prepared += 1;
    const tag = `${process.pid}.${Date.now()}.${prepared}`;
    const credentials = { email: `bench.mfa.${tag}@example.com`, password: 'bench-password-1' };
    const address = `10.${(prepared >> 8) & 255}.${prepared & 255}.1`;
    const { JWT } = await call<{ JWT: string }>(
      url,
      '/users',
      {
        ...credentials,
        user_name: `m.${tag}`.slice(0, 32),
        first_name: 'Bench',
        last_name: 'Factor',
      },
      undefined,
      address,
    );
    const { secret } = await call<{ secret: string }>(url, '/account/mfa/totp', undefined, JWT);
    const { recovery_codes } = await call<{ recovery_codes: string[] }>(
      url,
      '/account/mfa/totp/confirm',
      { code: totpCodeAt(secret, Date.now()) },
      JWT,
    );
    return { credentials, address, codes: recovery_codes };
  });
  const slots = accounts.flatMap((account) => account.codes.map((code) => ({ ...account, code }))).slice(0, count);
  return inBatches(slots.length, async (i) => {
    const { credentials, code } = slots[i];
    const { mfa_token } = await call<{ mfa_token: string }>(
      url,
      '/login',
      credentials,
      undefined,
      `10.200.${(i >> 8) & 255}.${i & 255}`,
    );
    return { mfa_token, recovery_code: code };
  });
}

const loginMfa: Scenario = {
  id: 'login-mfa',
  name: 'POST /login/mfa',
  kind: 'hashing',
  async measure(server: Server) {
    const pairs = await pendingLogins(server.url, COMPLETIONS);
    let next = 0;
    return sampled(server, () =>
      autocannon({
        url: server.url,
        connections: 8,
        amount: pairs.length,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({
              ...request,
              path: '/login/mfa',
              body: JSON.stringify(pairs[next++ % pairs.length]),
            }),
          },
        ],
      }),
    );
  },
};

export default loginMfa;
