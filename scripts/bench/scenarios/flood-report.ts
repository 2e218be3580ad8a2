// What the flood scenario reports: per service, percentiles of the logins
// quiet and under the flood, and the flood's answers.
import { markdownTable } from '../results.js';
import { FLOOD_CONNECTIONS, FLOOD_LOGINS } from '../options.js';
import type { Server } from '../types.js';
import {
  FLOOD_HEAD_START_MS,
  FLOOD_LOGIN_CONCURRENCY,
  FLOOD_MAX_MS,
  FLOODER_ADDRESS,
  USER_ADDRESS,
  type FloodSample,
} from './flood.js';

export interface FloodRow {
  server: string;
  rounds: number;
  quietLogins: number; // answered 200, over all rounds
  floodedLogins: number;
  quietP50: number;
  quietP95: number;
  floodedP50: number;
  floodedP95: number;
  p95Ratio: number;
  flood409: number;
  flood503: number;
  floodOther: number;
  floodPerSec: number;
  loginFailures: number;
}

/** Nearest-rank percentile. */
const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** One row from the rounds: percentiles over all their logins, the flood's answers summed. */
export function summarizeFlood(server: string, samples: FloodSample[]): FloodRow {
  const quiet = samples.flatMap((s) => s.quietMs);
  const flooded = samples.flatMap((s) => s.floodedMs);
  const statuses: Record<string, number> = {};
  for (const sample of samples)
    for (const [status, n] of Object.entries(sample.floodStatuses)) statuses[status] = (statuses[status] ?? 0) + n;
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const flood409 = statuses['409'] ?? 0;
  const flood503 = statuses['503'] ?? 0;
  return {
    server,
    rounds: samples.length,
    quietLogins: quiet.length,
    floodedLogins: flooded.length,
    quietP50: percentile(quiet, 50),
    quietP95: percentile(quiet, 95),
    floodedP50: percentile(flooded, 50),
    floodedP95: percentile(flooded, 95),
    p95Ratio: percentile(flooded, 95) / percentile(quiet, 95),
    flood409,
    flood503,
    floodOther: answered - flood409 - flood503,
    floodPerSec: answered / samples.reduce((sum, s) => sum + s.floodSeconds, 0),
    loginFailures: samples.reduce((sum, s) => sum + Object.values(s.loginFailures).reduce((a, b) => a + b, 0), 0),
  };
}

function floodTable(rows: FloodRow[]): string {
  return markdownTable(
    [
      'server',
      'logins quiet/under flood',
      'quiet p50 ms',
      'quiet p95 ms',
      'under flood p50 ms',
      'under flood p95 ms',
      'p95 ratio',
      'flood 409',
      'flood 503',
      'flood other',
      'flood req/s',
      'failed logins',
    ],
    1,
    rows.map((r) => [
      r.server,
      `${r.quietLogins}/${r.floodedLogins}`,
      Math.round(r.quietP50),
      Math.round(r.quietP95),
      Math.round(r.floodedP50),
      Math.round(r.floodedP95),
      r.p95Ratio.toFixed(2),
      r.flood409,
      r.flood503,
      r.floodOther,
      Math.round(r.floodPerSec).toLocaleString('en'),
      r.loginFailures,
    ]),
  );
}

export function floodSection(rows: FloodRow[]): string[] {
  return [
    '## Logins under a registration flood',
    '',
    `In each round, on each service: ${FLOOD_LOGINS} logins of seeded users from ${USER_ADDRESS}, ${FLOOD_LOGIN_CONCURRENCY} at a time, alone ("quiet"); then`,
    `${FLOOD_LOGINS} more while ${FLOODER_ADDRESS} keeps ${FLOOD_CONNECTIONS} registrations of a taken email in flight (each one argon2 hash, then 409;`,
    `503 once over its hashing budget), started ${FLOOD_HEAD_START_MS / 1000} s ahead and stopped when the logins are done (at most`,
    `${FLOOD_MAX_MS / 1000} s). Addresses by X-Forwarded-For (TRUST_PROXY=1). Latency percentiles over all rounds' successful logins (nearest rank);`,
    'flood answers summed over the rounds.',
    '',
    floodTable(rows),
    '',
  ];
}

export function logFloodSample(server: Server, sample: FloodSample): void {
  const row = summarizeFlood(server.label, [sample]);
  console.log(
    `  logins under a flood, ${server.label}: quiet p50/p95 ${Math.round(row.quietP50)}/${Math.round(row.quietP95)} ms, ` +
      `under flood ${Math.round(row.floodedP50)}/${Math.round(row.floodedP95)} ms; flood ${JSON.stringify(sample.floodStatuses)} at ${Math.round(row.floodPerSec)} req/s` +
      (row.loginFailures ? `; failed logins ${JSON.stringify(sample.loginFailures)}` : ''),
  );
}

/** The flood's part of a results file: its settings, rows and every sample (milliseconds to a tenth). */
export function floodResults(rows: FloodRow[], samples: Record<string, FloodSample[]>) {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    logins: FLOOD_LOGINS,
    loginConcurrency: FLOOD_LOGIN_CONCURRENCY,
    connections: FLOOD_CONNECTIONS,
    headStartMs: FLOOD_HEAD_START_MS,
    rows,
    samples: Object.fromEntries(
      Object.entries(samples).map(([label, list]) => [
        label,
        list.map((s) => ({
          ...s,
          quietMs: s.quietMs.map(round),
          floodedMs: s.floodedMs.map(round),
          floodSeconds: round(s.floodSeconds),
        })),
      ]),
    ),
  };
}
