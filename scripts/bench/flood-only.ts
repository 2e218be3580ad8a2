// --flood-only: the 1-worker service on a small database, the flood scenario alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDatabase } from './database.js';
import { ROUNDS, USERS } from './options.js';
import { writeResults } from './results.js';
import { loginsUnderFlood, type FloodSample } from './scenarios/flood.js';
import { floodResults, floodSection, logFloodSample, summarizeFlood } from './scenarios/flood-report.js';
import { startService } from './servers.js';
import type { Server } from './types.js';

export async function floodOnly(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const databaseUrl = `sqlite:${join(work, 'users.sqlite')}`;
  const samples: FloodSample[] = [];
  let server: Server | undefined;
  const label = 'service, 1 worker';
  try {
    prepareDatabase(databaseUrl);
    console.log(`Starting the service with WEB_CONCURRENCY 1`);
    server = await startService(databaseUrl, 1);
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`Round ${round} of ${ROUNDS}`);
      const sample = await loginsUnderFlood(server);
      samples.push(sample);
      logFloodSample(server, sample);
    }
  } finally {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rows = [summarizeFlood(label, samples)];
  const when = new Date().toISOString();
  const markdown = [
    `# Benchmark (flood scenario only), ${when}`,
    '',
    `Node ${process.version}, ${USERS.toLocaleString('en')} users on SQLite, ${cpus().length} cores, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, the client on 127.0.0.1 in the same machine.`,
    '',
    ...floodSection(rows),
  ].join('\n');
  writeResults('bench-flood', when, { flood: floodResults(rows, { [label]: samples }) }, markdown);
}
