// What the runner and the scenarios share: a server under measurement, a
// scenario, and what one measurement of it reads.
export interface Sample {
  reqPerSec: number; // median of the per-second samples
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  serverCpuUsPerRequest: number; // all the server's processes
  /** PostgreSQL's processes (every backend, the server's own too); NaN for SQLite, which runs inside the server. */
  databaseCpuUsPerRequest: number;
  loadGeneratorCpuShare: number; // of one core, autocannon's own process
}

export interface Row extends Sample {
  scenario: string;
  server: string;
  rounds: number;
  ratio?: number; // to the baseline's same route
}

/**
 * Which servers measure a scenario: the baseline and the HS256 service only
 * the hot reads, PostgreSQL's unprepared and 2-worker services the reads, the
 * pool-size run all but the hashing, and only the SQLite services with the
 * default algorithm token checks while logins run.
 */
export type ScenarioKind = 'hot read' | 'listing' | 'hashing' | 'write' | 'under logins';

export interface Scenario {
  /** Its file's name under scenarios/, as --only names it. */
  id: string;
  /** As the rows, the samples and the Markdown name it. */
  name: string;
  kind: ScenarioKind;
  /** One measurement on one server, after a warm-up of its own. */
  measure(server: Server): Promise<Sample>;
}

/** What autocannon sends, one request per call of `path` and `body`. */
export interface Load {
  method: 'GET' | 'POST' | 'PUT';
  path: string | (() => string);
  body?: () => unknown;
  /** Sends the server's token. */
  token?: boolean;
  /** Other than BENCH_CONNECTIONS. */
  connections?: number;
}

export interface Server {
  label: string;
  url: string;
  pid: number;
  token: string;
  /** Scenarios this server answers. */
  scenarios: Scenario[];
  /** Whether it measures the hashing admission: token checks while logins run, and the flood. */
  underLogins: boolean;
  /** Whether its database is the local PostgreSQL server, whose CPU is then counted too. */
  onPostgres: boolean;
  stop(): Promise<void>;
}
