// The documentation page, opened in a real browser: Debian's Chromium driven
// by playwright-core (no browser download). Without /usr/bin/chromium the
// browser test is skipped with a message, except under CI=true.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { loadSpec, projectRoot } from '../../src/contract/spec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const operations = Object.values(loadSpec().paths).flatMap((methods) =>
  Object.values(methods as unknown as Record<string, { summary: string; operationId: string; tags: string[] }>),
);

describe('documentation', function () {
  this.timeout(60_000);
  let api: TestServer;
  before(async () => {
    if (!existsSync(join(projectRoot(), 'dist', 'docs', 'index.html'))) {
      const build = spawnSync('npm', ['run', '-s', 'build:docs'], { cwd: projectRoot(), encoding: 'utf8' });
      if (build.status !== 0) throw new Error(`npm run build:docs failed: ${build.stderr}`);
    }
    api = await startTestServer();
  });
  after(() => api.close());

  it('serves the spec as JSON and YAML', async () => {
    const json = await fetch(`${api.url}/openapi.json`);
    expect(json.headers.get('content-type')).to.match(/^application\/json/);
    expect(((await json.json()) as { openapi: string }).openapi).to.equal('3.0.3');
    const yaml = await fetch(`${api.url}/openapi.yaml`);
    expect(yaml.headers.get('content-type')).to.match(/^application\/yaml/);
    expect(await yaml.text()).to.match(/^openapi: 3\.0\.3/);
  });

  it('matches its paths as the API does (any case, a trailing slash), and answers other methods 405 with Allow', async () => {
    for (const path of ['/DOCS', '/docs/', '/OpenAPI.json', '/openapi.yaml/']) {
      expect((await fetch(api.url + path)).status, path).to.equal(200);
    }
    const post = await fetch(`${api.url}/openapi.json`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
    expect(await post.json()).to.deep.equal({ error: 'Method not allowed' });
    const head = await fetch(`${api.url}/openapi.json`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
  });

  it('serves a self-contained page: nothing loaded from another host', async () => {
    const page = await (await fetch(`${api.url}/docs`)).text();
    expect(page).not.to.match(/<script[^>]+src="https?:/);
    expect(page).not.to.match(/<link[^>]+href="https?:/);
  });

  describe('in Chromium', () => {
    let browser: Browser;
    before(async function () {
      if (!existsSync(CHROMIUM)) {
        if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing; CI must install Debian's chromium`);
        console.log(`    (skipped: ${CHROMIUM} not installed; apt-get install chromium)`);
        this.skip();
      }
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    });
    after(async () => browser?.close());

    it('renders every operation of the spec as a heading, with no script errors', async () => {
      const page = await browser.newPage();
      const scriptErrors: string[] = [];
      page.on('pageerror', (error) => scriptErrors.push(String(error)));
      for (const { summary, operationId, tags } of operations) {
        // Redoc renders operations as they are reached; go to each one's own
        // address (its tag slugged: "Account recovery" is account-recovery).
        await page.goto(`${api.url}/docs#/${tags[0].toLowerCase().replace(/\s+/g, '-')}/${operationId.toLowerCase()}`, {
          waitUntil: 'load',
        });
        const heading = page.locator('h1, h2').filter({ hasText: new RegExp(`^${summary}$`) });
        await heading.first().waitFor({ state: 'visible', timeout: 20_000 });
      }
      expect(scriptErrors).to.deep.equal([]);
      await page.close();
    });
  });
});
