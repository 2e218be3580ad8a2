// Dredd hooks: set up the situation each documented response needs, then check
// the real body against the response's schema in the spec (Dredd itself only
// compares keys). A hook keyed by operationId and status that matches no
// transaction fails the whole run, so a renamed operation can't silently skip.
const hooks = require('hooks');
const { appendFileSync } = require('node:fs');
const { Ajv } = require('ajv');
const addFormats = require('ajv-formats');
const knex = require('knex');
const { loadSpec, documentedResponses } = require('./transactions.cjs');

const env = process.env;
const BASE_URL = env.CONTRACT_BASE_URL;
const STRICT_URL = env.CONTRACT_STRICT_URL; // USERS_LIST_REQUIRES_AUTH=true, limits of 1
const BUSY_URL = env.CONTRACT_BUSY_URL; // the main database, no budget for hashing
const spec = loadSpec();
const responses = documentedResponses(spec);
const byName = new Map(responses.map((r) => [r.name, r]));

const ajv = new Ajv({ strict: false, allErrors: true, formats: { password: true } });
addFormats(ajv, { mode: 'full' });
ajv.addSchema({ ...spec, $id: 'openapi' });
// Response schemas in the spec are all $refs into components; compiled once each.
const bodyValidators = new Map();
function bodyValidatorFor(response) {
  if (!bodyValidators.has(response.name)) {
    bodyValidators.set(response.name, ajv.compile({ $ref: `openapi${response.schema.$ref}` }));
  }
  return bodyValidators.get(response.name);
}

// A connection of the hooks' own to the server's database, for provoking faults.
function openDatabase(url) {
  if (url.startsWith('sqlite:')) {
    return knex({ client: 'sqlite3', connection: { filename: url.slice('sqlite:'.length) }, useNullAsDefault: true });
  }
  return knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
}

// ---- fixtures, made through the API itself ---------------------------------
const fixtures = {};
let database;

async function call(method, path, { body, token, baseUrl = BASE_URL, expect = 'ok' } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const expected = expect === 'ok' ? res.ok : res.status === expect;
  if (!expected) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}
const subjectOf = (token) => Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub);
async function registerUser(tag, overrides = {}) {
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

hooks.beforeAll(async (transactions, done) => {
  try {
    const names = new Set(transactions.map((t) => t.name));
    const unknown = Object.keys(setups).filter((name) => !names.has(name));
    if (unknown.length > 0) {
      const message = `hooks name no transaction: ${unknown.join('; ')}`;
      hooks.log(message);
      for (const transaction of transactions) transaction.fail = message;
    }
    database = openDatabase(env.CONTRACT_DATABASE_URL);
    const login = await call('POST', '/login', { body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } });
    fixtures.adminToken = login.access_token;
    fixtures.owner = await registerUser('owner');
    fixtures.other = await registerUser('other');
    fixtures.passwordChanger = await registerUser('changer');
    // The login example's credentials belong to a real account.
    const example = spec.paths['/login'].post.requestBody.content['application/json'].example;
    await registerUser('example', { email: example.email, password: example.password });
    done();
  } catch (error) {
    hooks.log(`beforeAll failed: ${error.stack}`);
    for (const transaction of transactions) transaction.fail = `fixtures failed: ${error.message}`;
    done();
  }
});

hooks.afterAll(async (_transactions, done) => {
  if (database) await database.destroy();
  done();
});

// ---- helpers for the setups -------------------------------------------------
const setBody = (t, body) => {
  t.request.body = typeof body === 'string' ? body : JSON.stringify(body);
};
const setToken = (t, token) => {
  t.request.headers.Authorization = `Bearer ${token}`;
};
const dropToken = (t) => {
  delete t.request.headers.Authorization;
};
// Sends the transaction to the strict instance instead.
const useStrictInstance = (t) => {
  t.port = new URL(STRICT_URL).port;
};
// Sends the transaction to the instance whose hashing queue is always full.
const useBusyInstance = (t) => {
  t.port = new URL(BUSY_URL).port;
};
const setPath = (t, path) => {
  t.fullPath = path;
  t.request.uri = path;
};
// A real database fault from outside the request path: a table disappears
// for the duration of this one request (see afterEach), as the contract asks.
const hideTable = (table) => async (t) => {
  await database.schema.renameTable(table, `${table}_hidden_by_contract_test`);
  t.hiddenTable = table;
};
const hideUsersTable = hideTable('users');

const example = (name) => {
  const [path] = name.split(' > ');
  const operation = Object.values(spec.paths[path]).find((op) => name.includes(` > ${op.summary} > `));
  return structuredClone(operation.requestBody.content['application/json'].example);
};

// Keyed by Dredd transaction name. Every documented response has a setup;
// an empty one means the spec's examples already provoke it.
const setups = {
  '/users > Create a user > 201 > application/json': (t) => {
    setBody(t, { ...example(t.name), email: 'created@example.com', user_name: 'created' });
  },
  '/users > Create a user > 400 > application/json': (t) => {
    setBody(t, { ...example(t.name), email: 'not-an-email' });
  },
  '/users > Create a user > 401 > application/json': (t) => {
    setToken(t, 'not.a.valid-token');
  },
  '/users > Create a user > 403 > application/json': (t) => {
    setBody(t, { ...example(t.name), email: 'wannabe@example.com', user_name: 'wannabe', role: 'admin' });
    setToken(t, fixtures.owner.token);
  },
  '/users > Create a user > 409 > application/json': (t) => {
    setBody(t, { ...example(t.name), email: fixtures.owner.email.toUpperCase(), user_name: 'someone_new' });
  },
  '/users > Create a user > 429 > application/json': async (t) => {
    useStrictInstance(t);
    const first = { ...example(t.name), email: 'first-from-here@example.com', user_name: 'first_from_here' };
    await call('POST', '/users', { body: first, baseUrl: STRICT_URL }); // the one registration allowed
  },
  '/users > Create a user > 500 > application/json': hideUsersTable,
  '/users > Create a user > 503 > application/json': (t) => {
    useBusyInstance(t);
    setBody(t, { ...example(t.name), email: 'busy@example.com', user_name: 'busy' });
  },

  '/users/pagination > List users > 200 > application/json': () => {},
  '/users/pagination > List users > 400 > application/json': (t) => {
    setPath(t, '/users/pagination?page=0&per_page=10');
  },
  '/users/pagination > List users > 401 > application/json': useStrictInstance,
  '/users/pagination > List users > 500 > application/json': hideUsersTable,

  '/users/{user_id} > Read a user profile > 200 > application/json': (t) => {
    setToken(t, fixtures.adminToken);
  },
  '/users/{user_id} > Read a user profile > 400 > application/json': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/not-a-number');
  },
  '/users/{user_id} > Read a user profile > 401 > application/json': dropToken,
  '/users/{user_id} > Read a user profile > 404 > application/json': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/999999');
  },
  '/users/{user_id} > Read a user profile > 500 > application/json': async (t) => {
    setToken(t, fixtures.adminToken);
    await hideUsersTable(t);
  },

  '/users/update/{user_id} > Update a user profile > 200 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
  },
  '/users/update/{user_id} > Update a user profile > 400 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
    setBody(t, {});
  },
  '/users/update/{user_id} > Update a user profile > 401 > application/json': dropToken,
  '/users/update/{user_id} > Update a user profile > 403 > application/json': (t) => {
    setToken(t, fixtures.other.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
  },
  '/users/update/{user_id} > Update a user profile > 404 > application/json': (t) => {
    setToken(t, fixtures.adminToken);
    setPath(t, '/users/update/999999');
  },
  '/users/update/{user_id} > Update a user profile > 409 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update/${fixtures.owner.id}`);
    setBody(t, { email: fixtures.other.email });
  },
  '/users/update/{user_id} > Update a user profile > 500 > application/json': async (t) => {
    setToken(t, fixtures.owner.token);
    await hideUsersTable(t);
  },

  '/users/update_password/{user_id} > Change a password > 200 > application/json': (t) => {
    setToken(t, fixtures.passwordChanger.token);
    setPath(t, `/users/update_password/${fixtures.passwordChanger.id}`);
    setBody(t, { existing_password: fixtures.passwordChanger.password, password: 'changed-password-1' });
  },
  '/users/update_password/{user_id} > Change a password > 400 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, { existing_password: 'not-the-password', password: 'changed-password-1' });
  },
  '/users/update_password/{user_id} > Change a password > 401 > application/json': dropToken,
  '/users/update_password/{user_id} > Change a password > 403 > application/json': (t) => {
    setToken(t, fixtures.other.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
  },
  '/users/update_password/{user_id} > Change a password > 409 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, '{"existing_password": ');
  },
  '/users/update_password/{user_id} > Change a password > 429 > application/json': async (t) => {
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
  '/users/update_password/{user_id} > Change a password > 500 > application/json': async (t) => {
    setToken(t, fixtures.owner.token);
    await hideUsersTable(t);
  },
  '/users/update_password/{user_id} > Change a password > 503 > application/json': (t) => {
    useBusyInstance(t);
    setToken(t, fixtures.owner.token);
    setPath(t, `/users/update_password/${fixtures.owner.id}`);
    setBody(t, { existing_password: fixtures.owner.password, password: 'changed-password-2' });
  },

  '/login > Log in > 200 > application/json': () => {},
  '/login > Log in > 400 > application/json': (t) => {
    setBody(t, { email: 'not-an-email', password: 'x' });
  },
  '/login > Log in > 401 > application/json': (t) => {
    setBody(t, { ...example(t.name), password: 'wrong-password' });
  },
  '/login > Log in > 409 > application/json': (t) => {
    setBody(t, '{"email": "broken');
  },
  '/login > Log in > 429 > application/json': async (t) => {
    useStrictInstance(t);
    const { email } = example(t.name);
    await call('POST', '/login', { body: { email, password: 'a-wrong-guess' }, baseUrl: STRICT_URL, expect: 401 });
  },
  '/login > Log in > 500 > application/json': hideUsersTable,
  '/login > Log in > 503 > application/json': useBusyInstance,

  '/logout > Log out > 200 > application/json': async (t) => {
    const { access_token } = await call('POST', '/login', {
      body: { email: fixtures.other.email, password: fixtures.other.password },
    });
    setToken(t, access_token);
  },
  '/logout > Log out > 401 > application/json': dropToken,
  '/logout > Log out > 500 > application/json': async (t) => {
    setToken(t, fixtures.owner.token);
    await hideUsersTable(t);
  },

  '/protected > Check a token > 200 > application/json': (t) => {
    setToken(t, fixtures.owner.token);
  },
  '/protected > Check a token > 401 > application/json': dropToken,
  '/protected > Check a token > 500 > application/json': async (t) => {
    setToken(t, fixtures.owner.token);
    await hideUsersTable(t);
  },

  '/healthz > Check that the process is alive > 200 > application/json': () => {},
  '/readyz > Check that the service is ready > 200 > application/json': () => {},
  // Knex's migration table gone: the migrations can't be confirmed.
  '/readyz > Check that the service is ready > 503 > application/json': hideTable('knex_migrations'),
};

hooks.beforeEach(async (transaction, done) => {
  try {
    const setup = setups[transaction.name];
    if (!setup) transaction.fail = 'no setup for this documented response';
    else await setup(transaction);
  } catch (error) {
    transaction.fail = `setup failed: ${error.message}`;
  }
  done();
});

// Express sends `application/json; charset=utf-8`; Dredd compares the header
// to the spec's media type literally. The parameter is allowed (and
// meaningless: JSON is UTF-8), so accept exactly that, and nothing else.
const JSON_CONTENT_TYPE = /^application\/json(; ?charset=utf-8)?$/i;
hooks.beforeEachValidation((transaction) => {
  const headers = transaction.real.headers;
  const name = Object.keys(headers).find((h) => h.toLowerCase() === 'content-type');
  if (name && JSON_CONTENT_TYPE.test(headers[name])) headers[name] = 'application/json';
});

hooks.afterEach(async (transaction, done) => {
  try {
    if (transaction.hiddenTable) {
      await database.schema.renameTable(`${transaction.hiddenTable}_hidden_by_contract_test`, transaction.hiddenTable);
    }
    const response = byName.get(transaction.name);
    const real = transaction.real;
    if (response && real) {
      const problems = checkResponse(response, real);
      if (problems) transaction.fail = problems;
    }
    if (env.CONTRACT_REPORT) {
      appendFileSync(env.CONTRACT_REPORT, JSON.stringify({ name: transaction.name, fail: transaction.fail || false }) + '\n');
    }
  } catch (error) {
    transaction.fail = `after hook failed: ${error.message}`;
  }
  done();
});

function checkResponse(response, real) {
  if (real.statusCode !== response.status) return `status ${real.statusCode}, documented ${response.status}`;
  let body;
  try {
    body = JSON.parse(real.body);
  } catch {
    return `body is not JSON: ${real.body}`;
  }
  const validate = bodyValidatorFor(response);
  if (!validate(body)) return `body does not match the spec: ${ajv.errorsText(validate.errors)} in ${real.body}`;
  return '';
}
