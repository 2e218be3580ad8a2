// One measurement: autocannon on a server with the CPU it and the server
// used meanwhile; the samples of every round, and their medians.
import autocannon from 'autocannon';
import { CONNECTIONS, SECONDS } from './options.js';
import { cpuSeconds, postgresCpuSeconds, postgresCpuSince } from './proc.js';
import type { Load, Row, Sample, Scenario, ScenarioKind, Server } from './types.js';

export function cannon(url: string, load: Load, token: string, seconds: number): Promise<autocannon.Result> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (load.token) headers.authorization = `Bearer ${token}`;
  return autocannon({
    url,
    connections: load.connections ?? CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: load.method,
        headers,
        setupRequest: (request) => ({
          ...request,
          path: typeof load.path === 'function' ? load.path() : load.path,
          ...(load.body ? { body: JSON.stringify(load.body()) } : {}),
        }),
      },
    ],
  });
}

/** Runs `load` (autocannon) and reads it with the CPU the server and the load generator used meanwhile. */
export async function sampled(server: Server, load: () => Promise<autocannon.Result>): Promise<Sample> {
  const serverCpuBefore = cpuSeconds(server.pid);
  const databaseCpuBefore = server.onPostgres ? postgresCpuSeconds() : undefined;
  const ownCpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load();
  const ownCpu = process.cpuUsage(ownCpuBefore);
  const elapsedUs = (performance.now() - started) * 1000;
  return {
    reqPerSec: result.requests.p50,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors, // timeouts included
    non2xx: result.non2xx,
    requests: result.requests.total,
    serverCpuUsPerRequest: ((cpuSeconds(server.pid) - serverCpuBefore) * 1e6) / Math.max(1, result.requests.total),
    databaseCpuUsPerRequest: databaseCpuBefore
      ? (postgresCpuSince(databaseCpuBefore) * 1e6) / Math.max(1, result.requests.total)
      : Number.NaN,
    loadGeneratorCpuShare: (ownCpu.user + ownCpu.system) / elapsedUs,
  };
}

/** A scenario that is one kind of request under autocannon: a 1 s warm-up, then BENCH_SECONDS measured. */
export function loadScenario(id: string, name: string, kind: ScenarioKind, load: Load): Scenario & { load: Load } {
  return {
    id,
    name,
    kind,
    load,
    async measure(server) {
      await cannon(server.url, load, server.token, 1); // warm-up, not counted
      return sampled(server, () => cannon(server.url, load, server.token, SECONDS));
    },
  };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** One row from the rounds' samples: medians, and every error and non-2xx answer summed. */
function summarize(scenario: string, server: string, samples: Sample[]): Row {
  const of = (key: keyof Sample) => samples.map((sample) => sample[key]);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    scenario,
    server,
    rounds: samples.length,
    reqPerSec: median(of('reqPerSec')),
    p50: median(of('p50')),
    p99: median(of('p99')),
    errors: sum(of('errors')),
    non2xx: sum(of('non2xx')),
    requests: sum(of('requests')),
    serverCpuUsPerRequest: median(of('serverCpuUsPerRequest')),
    databaseCpuUsPerRequest: median(of('databaseCpuUsPerRequest')),
    loadGeneratorCpuShare: median(of('loadGeneratorCpuShare')),
  };
}

/** The samples of every round, by "scenario|server". */
export class SampleBook {
  readonly samples = new Map<string, Sample[]>();

  record(scenario: string, server: string, sample: Sample): void {
    const key = `${scenario}|${server}`;
    this.samples.set(key, [...(this.samples.get(key) ?? []), sample]);
  }

  /** One row of medians per scenario a server answered. */
  row(scenario: string, server: string): Row {
    return summarize(scenario, server, this.samples.get(`${scenario}|${server}`)!);
  }
}

/** One round: each scenario on each server that answers it, in turn. */
export async function measureRound(servers: Server[], list: Scenario[], book: SampleBook): Promise<void> {
  for (const scenario of list) {
    for (const server of servers.filter((s) => s.scenarios.includes(scenario))) {
      const sample = await scenario.measure(server);
      book.record(scenario.name, server.label, sample);
      console.log(
        `  ${scenario.name}, ${server.label}: ${Math.round(sample.reqPerSec)} req/s, p99 ${sample.p99} ms, non-2xx ${sample.non2xx}`,
      );
    }
  }
}
