// The documentation page, opened in a real browser: Debian's Chromium driven
// by playwright-core (no browser download). Without /usr/bin/chromium the
// browser test is skipped with a message, except under CI=true.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parse } from 'yaml';
import { errorTextsOf, loadSpec, projectRoot, type SpecDocument, type SpecNode } from '../../src/contract/spec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * A spec with every $ref replaced by what it names, read from the file it is
 * in: the source's refs point into other files (`../components/x.yaml#/Y`),
 * the served document's into itself (`#/components/...`).
 */
function inlined(root: unknown, rootFile: string): SpecDocument {
  const documents = new Map<string, unknown>([[rootFile, root]]);
  const read = (path: string) => {
    if (!documents.has(path)) documents.set(path, parse(readFileSync(path, 'utf8')));
    return documents.get(path);
  };
  const visit = (node: unknown, file: string, document: unknown): unknown => {
    if (Array.isArray(node)) return node.map((item) => visit(item, file, document));
    if (!node || typeof node !== 'object') return node;
    const { $ref, ...rest } = node as SpecNode;
    if (typeof $ref === 'string') {
      const [target, pointer = ''] = $ref.split('#');
      const targetFile = target ? join(dirname(file), target) : file;
      const targetDocument = target ? read(targetFile) : document;
      const named = pointer
        .split('/')
        .slice(1)
        .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<any>((at, key) => at[key], targetDocument);
      return visit(named, targetFile, targetDocument);
    }
    return Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, visit(value, file, document)]));
  };
  return visit(root, rootFile, root) as SpecDocument;
}

function externalRefs(node: unknown): string[] {
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' && !value.startsWith('#/') ? [value] : externalRefs(value),
  );
}

/** Every operation's documented statuses and, for each, the error texts it allows. */
function answers(spec: SpecDocument): Record<string, Record<string, string[]>> {
  return Object.fromEntries(
    Object.entries(spec.paths).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => [
        `${method.toUpperCase()} ${path} ${item[method].operationId}`,
        Object.fromEntries(
          Object.entries(item[method].responses).map(([status, response]) => [status, errorTextsOf(spec, response)]),
        ),
      ]),
    ),
  );
}
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

  it('serves one self-contained document, equal to the source files in every operation, response and error text', async () => {
    const sourceFile = join(projectRoot(), 'openapi', 'openapi.yaml');
    const source = inlined(parse(readFileSync(sourceFile, 'utf8')), sourceFile);
    const json = (await (await fetch(`${api.url}/openapi.json`)).json()) as SpecDocument;
    const yaml = parse(await (await fetch(`${api.url}/openapi.yaml`)).text()) as SpecDocument;
    expect(yaml).to.deep.equal(json);
    expect(externalRefs(json)).to.deep.equal([]);

    const servedAnswers = answers(json);
    expect(Object.keys(servedAnswers)).to.have.length.greaterThan(20);
    expect(servedAnswers).to.deep.equal(answers(source));
    expect(servedAnswers['POST /users createUser']['409']).to.deep.equal(['Invalid request body']);
    // All of it, once every $ref is replaced by what it names; the served
    // document also holds, under components, what the source's files held.
    const { components: servedComponents, ...served } = inlined(json, 'served');
    const { components: sourceComponents, ...fromSource } = source;
    expect(served).to.deep.equal(fromSource);
    expect(servedComponents).to.deep.include(sourceComponents);
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
