// The full run: the baseline and the service's variants side by side, every
// scenario on each of them in turn, for BENCH_ROUNDS rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPostgresDatabase, type TestDatabase } from '../../test/support/database.js';
import { prepareDatabase } from './database.js';
import { measureRound, SampleBook } from './measure.js';
import { POSTGRES_ADMIN_URL, ROUNDS, SECONDS } from './options.js';
import { residentMb } from './proc.js';
import { fullReport, IDLE_BEFORE_SECOND_MEMORY_READING_MS } from './report.js';
import { writeResults } from './results.js';
import { loginsUnderFlood, type FloodSample } from './scenarios/flood.js';
import { floodResults, logFloodSample, summarizeFlood } from './scenarios/flood-report.js';
import { MEASURES_FLOOD, scenarios } from './scenarios/index.js';
import { startBaseline, startService } from './servers.js';
import type { Row, Server } from './types.js';

export async function fullRun(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const databaseUrl = `sqlite:${join(work, 'users.sqlite')}`;
  const notes: Record<string, unknown> = {};
  const book = new SampleBook();
  const floodSamples: Record<string, FloodSample[]> = {}; // by server
  const servers: Server[] = [];
  let postgres: TestDatabase | undefined;
  try {
    prepareDatabase(databaseUrl);

    console.log(
      'Starting the baseline (Express + validator + JWT check, no database), the service with WEB_CONCURRENCY 1 and 2, and with 1 and HS256',
    );
    servers.push(await startBaseline());
    for (const workers of [1, 2]) {
      const service = await startService(databaseUrl, workers);
      notes[`startupMs_${workers}`] = service.startupMs;
      servers.push(service);
    }
    servers.push(await startService(databaseUrl, 1, { algorithm: 'HS256' }));
    if (POSTGRES_ADMIN_URL) {
      postgres = await createPostgresDatabase(POSTGRES_ADMIN_URL);
      console.log(`On PostgreSQL (${new URL(postgres.url).host}):`);
      prepareDatabase(postgres.url);
      servers.push(await startService(postgres.url, 1, { database: 'PostgreSQL' }));
      servers.push(await startService(postgres.url, 1, { database: 'PostgreSQL', unprepared: true }));
      // With two workers the service's processes and PostgreSQL compete for the same cores.
      servers.push(await startService(postgres.url, 2, { database: 'PostgreSQL', only: ['hot read', 'listing'] }));
    }

    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      await measureRound(servers, scenarios, book);
      if (!MEASURES_FLOOD) continue;
      for (const server of servers.filter((s) => s.underLogins)) {
        const sample = await loginsUnderFlood(server);
        (floodSamples[server.label] ??= []).push(sample);
        logFloodSample(server, sample);
      }
    }
    const services = servers.filter((s) => s.underLogins);
    const resident = (key: string) => {
      for (const server of services)
        notes[`${key}_${server.label.split(' ')[1]}`] = residentMb(server.pid).map((mb) => Math.round(mb));
    };
    resident('residentMbPerWorker');
    // Right after the load, V8's heap still holds the garbage of the last
    // seconds; after a pause its memory reducer has run, as between bursts.
    await sleep(IDLE_BEFORE_SECOND_MEMORY_READING_MS);
    resident('residentMbPerWorkerAfterIdle');
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(work, { recursive: true, force: true });
    await postgres?.drop();
  }

  const rows: Row[] = servers.flatMap((server) =>
    server.scenarios.map((scenario) => book.row(scenario.name, server.label)),
  );
  for (const row of rows) {
    const base = rows.find((r) => r.server === 'baseline' && r.scenario === row.scenario);
    if (base && row !== base) row.ratio = row.reqPerSec / base.reqPerSec;
  }
  const floodRows = Object.entries(floodSamples).map(([label, list]) => summarizeFlood(label, list));
  const when = new Date().toISOString();
  writeResults(
    'bench',
    when,
    {
      seconds: SECONDS,
      rows,
      samples: Object.fromEntries(book.samples),
      notes,
      flood: floodResults(floodRows, floodSamples),
    },
    fullReport(when, { rows, notes, onPostgres: postgres !== undefined, floodRows }),
    { latest: true },
  );
}
