// The Markdown tables and the files of a run under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT, ROUNDS, USERS } from './options.js';
import type { Row } from './types.js';

/** A Markdown table; the columns after the first `leftColumns` are right-aligned numbers. */
export function markdownTable(header: string[], leftColumns: number, rows: (string | number)[][]): string {
  const align = header.map((_, i) => (i < leftColumns ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function table(rows: Row[]): string {
  return markdownTable(
    [
      'scenario',
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'server CPU µs/req',
      'PostgreSQL CPU µs/req',
      'ratio to baseline',
    ],
    2,
    rows.map((r) => [
      r.scenario,
      r.server,
      Math.round(r.reqPerSec).toLocaleString('en'),
      r.p50,
      r.p99,
      r.errors,
      r.non2xx,
      Number.isNaN(r.serverCpuUsPerRequest) ? '' : Math.round(r.serverCpuUsPerRequest),
      Number.isNaN(r.databaseCpuUsPerRequest) ? '' : Math.round(r.databaseCpuUsPerRequest),
      r.ratio === undefined ? '' : r.ratio.toFixed(2),
    ]),
  );
}

/** Prints the Markdown and writes it with the JSON to bench/results/NAME-STAMP.{json,md} (and latest.md). */
export function writeResults(
  name: string,
  when: string,
  data: object,
  markdown: string,
  { latest = false } = {},
): void {
  console.log('\n' + markdown);
  const folder = join(ROOT, 'bench', 'results');
  mkdirSync(folder, { recursive: true });
  const file = `${name}-${when.replace(/[:.]/g, '-')}`;
  const run = { when, node: process.version, cores: cpus().length, users: USERS, rounds: ROUNDS, ...data };
  writeFileSync(join(folder, `${file}.json`), JSON.stringify(run, null, 2));
  writeFileSync(join(folder, `${file}.md`), markdown);
  if (latest) writeFileSync(join(folder, 'latest.md'), markdown);
  console.log(`Written to bench/results/${file}.{json,md}${latest ? ' and bench/results/latest.md' : ''}`);
}
