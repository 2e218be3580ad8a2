// Starts the real app on a free loopback port, with response validation on,
// so every answer a test sees has also been checked against the spec.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createService, type Service } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { listen } from '../../src/http/listen.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from './database.js';

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-123', user_name: 'admin' };
export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  token?: string;
  /** Sent as is instead of JSON-encoding `body`. */
  raw?: string;
  headers?: Record<string, string>;
}

export interface TestServer {
  url: string;
  server: Server;
  service: Service;
  request(method: string, path: string, options?: RequestOptions): Promise<Reply>;
  /** Registers a user (defaults made unique per call) and returns its id, token and password. */
  register(
    overrides?: Record<string, unknown>,
    token?: string,
  ): Promise<{ id: number; token: string; email: string; password: string }>;
  login(email: string, password: string): Promise<string>;
  /** Every log line the service wrote, when started with `captureLogs`. */
  logLines: string[];
  close(): Promise<void>;
}

/** How many answers had each status: what a test of a burst sent in parallel asserts. */
export function tally(answers: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** A valid registration body, unique by `tag`. */
export const newUserBody = (tag: string) => ({
  email: `person${tag}@example.com`,
  user_name: `person_${tag}`,
  first_name: 'Jane',
  last_name: 'Doe',
  password: 'correct-horse-battery',
});

let counter = 0;

/** Starts the app; on a fresh database of the test backend unless `env` names one. */
export async function startTestServer(
  env: Record<string, string | undefined> = {},
  { captureLogs = false }: { captureLogs?: boolean } = {},
): Promise<TestServer> {
  const ownDatabase = env.DATABASE_URL === undefined ? await createTestDatabase() : undefined;
  const config = loadConfig({
    DATABASE_URL: ownDatabase?.url,
    JWT_SECRET: TEST_SECRET,
    SIGNING_KEYS_SECRET: TEST_SECRET,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'silent',
    // Set for the run through a pooler (scripts/test-postgres.ts).
    DB_PREPARED_STATEMENTS: process.env.DB_PREPARED_STATEMENTS,
    // Tests register many users from one address; the limit has tests of its own.
    REGISTRATIONS_PER_ADDRESS: '0',
    ...env,
  });
  const logLines: string[] = [];
  const sink = { write: (line: string) => void logLines.push(line) };
  const logger = captureLogs ? createLogger('trace', sink) : createLogger(config.logLevel);
  const service = await createService(config, logger);
  const server = listen(service.app, 0, '127.0.0.1', config.connections);
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(url + path, { method, headers, body: payload });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
  }

  async function login(email: string, password: string): Promise<string> {
    const reply = await request('POST', '/login', { body: { email, password } });
    if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.access_token;
  }

  async function register(overrides: Record<string, unknown> = {}, token?: string) {
    counter += 1;
    const user = {
      email: `user${counter}@example.com`,
      user_name: `user_${counter}`,
      first_name: 'Test',
      last_name: 'User',
      password: `password-${counter}-long`,
      ...overrides,
    };
    const reply = await request('POST', '/users', { body: user, token });
    if (reply.status !== 201) throw new Error(`register failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    const id = Number(JSON.parse(Buffer.from(reply.body.JWT.split('.')[1], 'base64url').toString()).sub);
    return { id, token: reply.body.JWT as string, email: String(user.email), password: String(user.password) };
  }

  return {
    url,
    server,
    service,
    request,
    register,
    login,
    logLines,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await service.close();
      await ownDatabase?.drop();
    },
  };
}
