// The full run's Markdown: the table, memory and start-up, what two workers
// and one PostgreSQL core could serve, the flood, and the targets met or not.
// With --only, what needs a row that was not measured is left out.
import { cpus } from 'node:os';
import { DELETED_EVERY, SEEDED } from './database.js';
import { median } from './measure.js';
import { CONNECTIONS, ROUNDS, SECONDS, USERS } from './options.js';
import { table } from './results.js';
import { floodSection, type FloodRow } from './scenarios/flood-report.js';
import { MEASURES_FLOOD } from './scenarios/index.js';
import type { Row } from './types.js';

export const IDLE_BEFORE_SECOND_MEMORY_READING_MS = 10_000;

class NotMeasured extends Error {}

/** What `compute` gives, as a list of one, or none when it needs a row --only left out. */
function ifMeasured<T>(compute: () => T): T[] {
  try {
    return [compute()];
  } catch (error) {
    if (error instanceof NotMeasured) return [];
    throw error;
  }
}

interface FullRun {
  rows: Row[];
  notes: Record<string, unknown>;
  onPostgres: boolean;
  floodRows: FloodRow[];
}

export function fullReport(when: string, { rows, notes, onPostgres, floodRows }: FullRun): string {
  const loadGeneratorShare = median(rows.map((r) => r.loadGeneratorCpuShare));
  const find = (scenario: string, server: string) => {
    const row = rows.find((r) => r.scenario === scenario && r.server === server);
    if (!row) throw new NotMeasured();
    return row;
  };
  /** A scenario's req/s on one server ÷ on another. */
  const rateOf = (scenario: string, server: string, other: string) =>
    find(scenario, server).reqPerSec / find(scenario, other).reqPerSec;
  /** Page 1's req/s ÷ the last page's: how many times page 1 the last page costs. */
  const lastPageCost = (server: string) =>
    find('GET /users/pagination (page 1)', server).reqPerSec /
    find('GET /users/pagination (last page)', server).reqPerSec;
  const one = 'service, 1 worker';
  const two = 'service, 2 workers';
  const sharedSecret = 'service, 1 worker, HS256';
  const residentOne = notes.residentMbPerWorker_1 as number[];
  const residentTwo = notes.residentMbPerWorker_2 as number[];
  const postgresOne = 'service, 1 worker, PostgreSQL';
  const postgresTwo = 'service, 2 workers, PostgreSQL';
  type Target = readonly [name: string, value: number, bound: number, op: '≥' | '≤' | '<'];
  const target = (name: string, value: () => number, bound: number, op: Target[3]) =>
    ifMeasured((): Target => [name, value(), bound, op]);
  const postgresTargets = onPostgres
    ? [
        ...(['GET /protected', 'GET /users/:id'] as const).flatMap((scenario) =>
          target(
            `${scenario} on PostgreSQL ≥ 0.8 of SQLite (1 worker)`,
            () => rateOf(scenario, postgresOne, one),
            0.8,
            '≥',
          ),
        ),
        ...target(
          'last page costs ≤ 2× page 1 on PostgreSQL (req/s ratio, 1 worker)',
          () => lastPageCost(postgresOne),
          2,
          '≤',
        ),
      ]
    : [];
  const targets = [
    ...target('GET /protected ≥ 1.0 of baseline (1 worker)', () => find('GET /protected', one).ratio!, 1.0, '≥'),
    ...target('GET /users/:id ≥ 0.9 of baseline (1 worker)', () => find('GET /users/:id', one).ratio!, 0.9, '≥'),
    ...target(
      'GET /protected with ES256 (the default) ≥ 0.9 of HS256 (1 worker)',
      () => rateOf('GET /protected', one, sharedSecret),
      0.9,
      '≥',
    ),
    ...(['GET /protected', 'GET /users/:id'] as const).flatMap((scenario) =>
      target(`2 workers ≥ 1.6× 1 worker, ${scenario}`, () => rateOf(scenario, two, one), 1.6, '≥'),
    ),
    ...target('last page costs ≤ 2× page 1 (req/s ratio, 1 worker)', () => lastPageCost(one), 2, '≤'),
    ...target(
      'GET /protected p99 under 50 ms while logins run (1 worker)',
      () => find('GET /protected while logins run', one).p99,
      50,
      '<',
    ),
    ...postgresTargets,
    ...target('resident memory per worker under 150 MB', () => Math.max(...residentOne, ...residentTwo), 150, '<'),
    ...target(
      'start-up to first answer under 1.5 s on an existing database (1 worker)',
      () => (notes.startupMs_1 as number) / 1000,
      1.5,
      '<',
    ),
  ];
  // What two workers could reach at most on this machine: the cores the load
  // generator leaves, at one worker's CPU cost per request.
  const ceilings = ['GET /protected', 'GET /users/:id'].flatMap((scenario) =>
    ifMeasured(() => {
      const single = find(scenario, one);
      const ceiling =
        (cpus().length - find(scenario, two).loadGeneratorCpuShare) / (single.serverCpuUsPerRequest / 1e6);
      return `${scenario} ${Math.round(ceiling).toLocaleString('en')} req/s (${(ceiling / single.reqPerSec).toFixed(2)}× one worker)`;
    }),
  );
  const targetLines = targets.map(([name, value, bound, op]) => {
    const met = op === '≥' ? value >= bound : op === '≤' ? value <= bound : value < bound;
    return `- ${met ? 'met' : 'NOT met'}: ${name}: ${Number(value).toFixed(2)}`;
  });
  const postgresAgainstSqlite = ['GET /protected', 'GET /users/:id'].flatMap((scenario) =>
    ifMeasured(() => `${scenario} ${rateOf(scenario, postgresTwo, two).toFixed(2)}`),
  );

  return [
    `# Benchmark, ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on SQLite${onPostgres ? ' and on PostgreSQL (a local server, on the same cores)' : ''} (of ${SEEDED.toLocaleString('en')} made, every ${DELETED_EVERY}th deleted), ${cpus().length} cores. Medians of ${ROUNDS} rounds; in each`,
    `round every scenario ran on each server in turn, ${SECONDS} s after a 1 s warm-up, with ${CONNECTIONS} connections (8 for logins`,
    `and registrations), autocannon on 127.0.0.1 in the same machine, where it used ${Math.round(loadGeneratorShare * 100)}% of a core (median).`,
    'Errors and non-2xx answers are summed over the rounds. Server CPU counts all of its processes and threads.',
    '',
    table(rows),
    '',
    `Start-up to first answer on the seeded database: ${String(notes.startupMs_1)} ms (1 worker), ${String(notes.startupMs_2)} ms (2 workers).`,
    `Resident memory per worker right after the run: ${residentOne.join(', ')} MB (1 worker); ${residentTwo.join(', ')} MB (2 workers);`,
    `${IDLE_BEFORE_SECOND_MEMORY_READING_MS / 1000} s later: ${(notes.residentMbPerWorkerAfterIdle_1 as number[]).join(', ')} MB (1 worker); ${(notes.residentMbPerWorkerAfterIdle_2 as number[]).join(', ')} MB (2 workers).`,
    ...(ceilings.length
      ? [
          `Estimated most that two workers can serve here (the cores autocannon leaves, at one worker's CPU per request): ${ceilings.join('; ')}.`,
        ]
      : []),
    ...(onPostgres
      ? [
          `What one PostgreSQL core serves (1 s of its CPU ÷ its CPU per request, 1 worker): ${rows
            .filter((row) => row.server === postgresOne && !Number.isNaN(row.databaseCpuUsPerRequest))
            .map((row) => `${row.scenario} ${Math.round(1e6 / row.databaseCpuUsPerRequest).toLocaleString('en')} req/s`)
            .join('; ')}.`,
          ...(postgresAgainstSqlite.length
            ? [
                `PostgreSQL ÷ SQLite with 2 workers, where PostgreSQL and the workers share the cores: ${postgresAgainstSqlite.join('; ')}.`,
              ]
            : []),
        ]
      : []),
    '',
    ...(MEASURES_FLOOD ? floodSection(floodRows) : []),
    '## Targets',
    ...targetLines,
    '',
  ].join('\n');
}
