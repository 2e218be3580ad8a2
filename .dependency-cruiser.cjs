// The import rule of the README's Layout, checked by `npm run lint`:
// http → domain ← storage, compose.ts wires them, contract is read by all
// that need the spec, and the domain imports nothing of the others.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-stands-alone',
      comment: 'The domain knows no HTTP, no storage, no settings and no spec: only its own modules.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^(src/(?!domain/)|generated/)' },
    },
    {
      name: 'storage-below-http',
      comment: 'Storage implements the domain ports; it never reaches into HTTP, the spec or the wiring.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/(http|contract)/|^src/(app|compose|server|cli)\\.ts$' },
    },
    {
      name: 'mail-is-an-adapter',
      comment: 'The mail transport and its loop serve the domain; they know nothing of HTTP, storage or the spec.',
      severity: 'error',
      from: { path: '^src/mail/' },
      to: { path: '^src/(http|storage|contract)/|^src/(app|compose|server|cli)\\.ts$' },
    },
    {
      name: 'http-above-storage',
      comment: 'HTTP calls the domain; only compose.ts hands it what storage provides.',
      severity: 'error',
      from: { path: '^src/(http/|app\\.ts$)' },
      to: { path: '^src/(storage|mail)/|^src/(compose|server|cli)\\.ts$' },
    },
    {
      name: 'contract-reads-the-spec-only',
      comment: 'Loading and resolving the spec serves the app and the CLI alike.',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^src/(?!contract/)' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
