// Runs the service as a real process on a free loopback port, as a deployment
// would: for the contract tests (built code) and the multi-instance tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '..', '..');
const STARTUP_LIMIT_MS = 20_000;
const LOG_WAIT_LIMIT_MS = 20_000;

export interface ServerProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** From spawning to the first answer. */
  startupMs: number;
  /** With `captureLogs`: every line the service (its workers too) wrote to standard output. */
  logLines: string[];
  /** With `captureLogs`: waits (bounded) until `count` log lines have this `msg`, and returns them parsed. */
  untilLogged(msg: string | RegExp, count?: number): Promise<LogLine[]>;
  stop(): Promise<void>;
}

export interface LogLine {
  msg: string;
  pid: number;
  time: number;
  [field: string]: unknown;
}

export interface StartOptions {
  /** Run the built dist/src/server.js instead of src/server.ts through tsx. */
  built?: boolean;
  /** Node arguments for another program altogether (the benchmark's baseline). */
  args?: string[];
  /** The path polled until it answers below 500. */
  probe?: string;
  /** Discard standard output (request logs under load). */
  quiet?: boolean;
  /** Keep standard output in `logLines` instead of passing it on. */
  captureLogs?: boolean;
  /** In a process group of its own, as a service manager runs it: `process.kill(-child.pid, signal)` signals it all. */
  detached?: boolean;
}

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts src/server.ts (through tsx) or the built dist/src/server.js, and waits until it answers. */
export async function startServerProcess(
  env: Record<string, string>,
  {
    built = false,
    args,
    probe = '/users/pagination?per_page=1',
    quiet = false,
    captureLogs = false,
    detached = false,
  }: StartOptions = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const nodeArgs =
    args ?? (built ? [join(ROOT, 'dist', 'src', 'server.js')] : ['--import', 'tsx', join(ROOT, 'src', 'server.ts')]);
  const started = Date.now();
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', captureLogs ? 'pipe' : quiet ? 'ignore' : 'inherit', 'inherit'],
    detached,
  });
  const logLines: string[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    logLines.push(...lines);
  });
  const untilLogged = async (msg: string | RegExp, count = 1): Promise<LogLine[]> => {
    const matches = (text: string) => (typeof msg === 'string' ? text === msg : msg.test(text));
    const limit = Date.now() + LOG_WAIT_LIMIT_MS;
    for (;;) {
      const found = logLines.flatMap(parseLogLine).filter((line) => matches(line.msg));
      if (found.length >= count) return found;
      if (Date.now() > limit) throw new Error(`"${msg}" was not logged ${count} times within ${LOG_WAIT_LIMIT_MS} ms`);
      await sleep(20);
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before answering`);
    try {
      if ((await fetch(url + probe)).status < 500)
        return { port, url, child, startupMs: Date.now() - started, logLines, untilLogged, stop };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  await stop();
  throw new Error(`server did not answer within ${STARTUP_LIMIT_MS / 1000} s`);
}

/** The line as the service logged it, in a list of one; an empty list for anything else. */
export function parseLogLine(line: string): LogLine[] {
  try {
    return [JSON.parse(line) as LogLine];
  } catch {
    return [];
  }
}

/** Runs the operator's CLI (src/cli.ts through tsx) to the end, with these settings over the environment. */
export function runCli(args: string[], env: Record<string, string>, input = '') {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), ...args], {
    env: { ...process.env, ...env },
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
}
