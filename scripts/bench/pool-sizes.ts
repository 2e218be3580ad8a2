// npm run bench -- --pool-sizes 1,2,4,10: the service on PostgreSQL with each
// DB_POOL_MAX, with 1 and 2 workers, side by side in the same rounds; for the
// README's pool size. The smallest pool within 5% of the best is the one to use.
import { cpus } from 'node:os';
import { createPostgresDatabase } from '../../test/support/database.js';
import { prepareDatabase } from './database.js';
import { measureRound, SampleBook } from './measure.js';
import { CONNECTIONS, POSTGRES_ADMIN_URL, ROUNDS, SECONDS, USERS } from './options.js';
import { table, writeResults } from './results.js';
import { ofKinds } from './scenarios/index.js';
import { POOL_KINDS, startService } from './servers.js';
import type { Server } from './types.js';

export async function poolSizes(sizes: number[]): Promise<void> {
  if (!POSTGRES_ADMIN_URL || sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    console.error('Usage: BENCH_POSTGRES_URL=postgres://… npm run bench -- --pool-sizes 1,2,4,10');
    process.exit(2);
  }
  const poolScenarios = ofKinds(POOL_KINDS);
  const postgres = await createPostgresDatabase(POSTGRES_ADMIN_URL);
  const book = new SampleBook();
  const servers: Server[] = [];
  try {
    prepareDatabase(postgres.url);
    for (const workers of [1, 2])
      for (const poolMax of sizes)
        servers.push(await startService(postgres.url, workers, { database: 'PostgreSQL', poolMax }));
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      await measureRound(servers, poolScenarios, book);
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await postgres.drop();
  }
  const rows = servers.flatMap((server) => poolScenarios.map((scenario) => book.row(scenario.name, server.label)));
  const choices = [1, 2].flatMap((workers) =>
    poolScenarios.map((scenario) => {
      const measured = sizes.map((size) => ({
        size,
        reqPerSec: rows.find(
          (row) =>
            row.scenario === scenario.name &&
            row.server.startsWith(`service, ${workers} worker`) &&
            row.server.endsWith(`pool ${size}`),
        )!.reqPerSec,
      }));
      const best = Math.max(...measured.map((m) => m.reqPerSec));
      const smallest = measured.filter((m) => m.reqPerSec >= 0.95 * best).sort((a, b) => a.size - b.size)[0];
      return `- ${workers} worker${workers === 1 ? '' : 's'}, ${scenario.name}: ${measured.map((m) => `pool ${m.size} ${Math.round(m.reqPerSec).toLocaleString('en')}`).join(', ')} req/s; smallest within 5% of the best: ${smallest.size}`;
    }),
  );
  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark (PostgreSQL pool sizes), ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on PostgreSQL (a local server, on the same ${cpus().length} cores), DB_POOL_MAX ${sizes.join(', ')} per process, with 1 and 2 workers. Medians of ${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections.`,
    '',
    table(rows),
    '',
    '## Pool size',
    ...choices,
    '',
  ].join('\n');
  writeResults(
    'bench-pool',
    when,
    { seconds: SECONDS, sizes, rows, samples: Object.fromEntries(book.samples) },
    markdown,
  );
}
