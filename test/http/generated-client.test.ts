// A second, independent generator: swagger-typescript-api, with its defaults,
// generates a client from the bundled spec, as a new user would. The walk
// below uses the committed client (generated/swagger-typescript-api), so the
// compiler checks it; the test first shows that client is exactly what the
// generator gives for today's spec, and that it compiles under tsc --strict.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  TakenFieldName,
  type HttpResponse,
  type InvalidOrExpiredTokenError,
  type InvalidRequestBodyOrTakenError,
} from '../../generated/swagger-typescript-api/api.js';
import { projectRoot } from '../../src/contract/spec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ROOT = projectRoot();

/** The answer a generated method throws for a status outside 2xx. */
async function refusal<E>(call: Promise<unknown>): Promise<HttpResponse<unknown, E>> {
  try {
    await call;
  } catch (answer) {
    return answer as HttpResponse<unknown, E>;
  }
  throw new Error('the call succeeded');
}

describe('a client generated from the spec by a second generator (swagger-typescript-api)', function () {
  this.timeout(120_000);
  let api: TestServer;
  before(async () => {
    api = await startTestServer();
  });
  after(() => api.close());

  it('is what the generator gives for the spec today, and compiles under tsc --strict', () => {
    const folder = mkdtempSync(join(tmpdir(), 'generated-client-'));
    try {
      const generate = spawnSync('node', ['--import', 'tsx', 'scripts/generate-client.ts', '--out', folder], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(generate.status, generate.stderr).to.equal(0);
      const generated = readFileSync(join(folder, 'api.ts'), 'utf8');
      expect(generated).to.equal(readFileSync(join(ROOT, 'generated', 'swagger-typescript-api', 'api.ts'), 'utf8'));
      expect(generated).to.include('public baseUrl: string = "http://localhost:3000";');

      const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
      const compile = spawnSync(
        tsc,
        [
          ...['--strict', '--noEmit', '--skipLibCheck', '--target', 'ES2022', '--lib', 'ES2023,DOM'],
          ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node'],
          join(folder, 'api.ts'),
        ],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(compile.status, compile.stdout + compile.stderr).to.equal(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('registers, logs in, reads the profile, refreshes and logs out', async () => {
    const client = new Api<string>({
      baseUrl: api.url,
      securityWorker: (token) => (token ? { headers: { Authorization: `Bearer ${token}` } } : {}),
    });
    const credentials = { email: 'second.generator@example.com', password: 'generated-password-1' };
    const profile = { user_name: 'second.generator', first_name: 'Second', last_name: 'Generator' };

    const registered = await client.users.createUser({ ...credentials, ...profile });
    expect(registered.status).to.equal(201);
    expect(registered.data.JWT).to.be.a('string');

    const taken = await refusal<InvalidRequestBodyOrTakenError>(
      client.users.createUser({ ...credentials, ...profile, user_name: 'someone.else' }),
    );
    expect(taken.status).to.equal(409);
    expect(taken.error.error).to.equal('Invalid request body');
    expect(taken.error.details?.map((problem) => problem.field)).to.deep.equal([TakenFieldName.Email]);

    const login = await client.login.login(credentials);
    expect(login.status).to.equal(200);
    client.setSecurityData(login.data.access_token);

    const id = Number(JSON.parse(Buffer.from(login.data.access_token.split('.')[1], 'base64url').toString()).sub);
    const read = await client.users.getUser(id);
    expect(read.data).to.deep.equal({ id, email: credentials.email, ...profile, role: 'user' });

    const refreshed = await client.token.refreshToken({ refresh_token: login.data.refresh_token });
    expect(refreshed.status).to.equal(200);
    expect(refreshed.data.refresh_token).not.to.equal(login.data.refresh_token);
    client.setSecurityData(refreshed.data.access_token);
    expect((await client.protected.checkToken()).data.message).to.equal('Token is valid');

    expect((await client.logout.logout()).data.message).to.equal('Logout successful');
    const after = await refusal<InvalidOrExpiredTokenError>(client.protected.checkToken());
    expect(after.status).to.equal(401);
    expect(after.error).to.deep.equal({ error: 'Invalid or expired token' });
  });
});
