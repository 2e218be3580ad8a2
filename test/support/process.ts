// Runs the service as a real process on a free loopback port, as a deployment
// would: for the contract tests (built code) and the multi-instance tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '..', '..');
const STARTUP_LIMIT_MS = 20_000;

export interface ServerProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** From spawning to the first answer. */
  startupMs: number;
  stop(): Promise<void>;
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
  { built = false, args, probe = '/users/pagination?per_page=1', quiet = false }: StartOptions = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const nodeArgs =
    args ?? (built ? [join(ROOT, 'dist', 'src', 'server.js')] : ['--import', 'tsx', join(ROOT, 'src', 'server.ts')]);
  const started = Date.now();
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  });
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
      if ((await fetch(url + probe)).status < 500) return { port, url, child, startupMs: Date.now() - started, stop };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  await stop();
  throw new Error(`server did not answer within ${STARTUP_LIMIT_MS / 1000} s`);
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
