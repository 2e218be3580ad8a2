/* eslint-disable @typescript-eslint/no-require-imports -- Dredd requires hook files and gives them its registry as require("hooks"). */
// Dredd loads hook files with require(); the hooks themselves are TypeScript
// (contract-hooks.ts), loaded here once and handed each of Dredd's hook calls.
// Each hook takes (data, done) explicitly: Dredd waits for `done` only when
// a hook declares two parameters.
const hooks = require('hooks');

const loaded = import('./contract-hooks.ts');
const failedToLoad = (done) => (error) => {
  hooks.log(`contract-hooks.ts failed to load: ${error.stack}`);
  done();
};

hooks.beforeAll((transactions, done) => {
  loaded.then((module) => module.beforeAll(transactions, done), failedToLoad(done));
});
hooks.beforeEach((transaction, done) => {
  loaded.then((module) => module.beforeEach(transaction, done), failedToLoad(done));
});
hooks.beforeEachValidation((transaction, done) => {
  loaded.then((module) => {
    module.beforeEachValidation(transaction);
    done();
  }, failedToLoad(done));
});
hooks.afterEach((transaction, done) => {
  loaded.then((module) => module.afterEach(transaction, done), failedToLoad(done));
});
hooks.afterAll((transactions, done) => {
  loaded.then((module) => module.afterAll(transactions, done), failedToLoad(done));
});
