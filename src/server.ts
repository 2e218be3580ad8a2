// Starts the service: reads the configuration, prepares the database and
// listens. With WEB_CONCURRENCY=N > 1, this process becomes a node:cluster
// primary that migrates once, then runs N workers sharing the port.
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createService, prepareDatabase } from './compose.js';
import { DOCS_PATH } from './http/docs.js';
import { listen } from './http/listen.js';
import { createLogger, describeSafely, type Logger } from './logger.js';
import { describeMailDestination } from './mail/smtp.js';
import { describeDatabase } from './storage/database.js';

const WORKER_RESTART_DELAY_MS = 1000;

const config = readConfigOrExit();
const logger = createLogger(config.logLevel, undefined, config.logPretty);

try {
  if (cluster.isWorker) {
    // The primary has migrated and created the bootstrap admin already.
    await serve({ ...config, migrateOnStart: false, bootstrapAdmin: undefined }, logger, { announce: false });
  } else {
    for (const warning of config.warnings) logger.warn(warning);
    if (config.webConcurrency > 1) {
      await prepareDatabase(config, logger);
      runPrimary(config, logger);
    } else {
      await serve(config, logger, { announce: true });
    }
  }
} catch (error) {
  failStartup(error);
}

function failStartup(error: unknown): never {
  if (error instanceof ConfigError) console.error(`Configuration error: ${error.message}`);
  // A driver's error quotes the statement that failed, with its values (the bootstrap admin's email and hash).
  else logger.fatal({ failure: describeSafely(error) }, 'start-up failed');
  process.exit(1);
}

function readConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Configuration error: ${error.message}`);
    process.exit(1);
  }
}

async function serve(config: Config, logger: Logger, { announce }: { announce: boolean }): Promise<void> {
  const service = await createService(config, logger);
  const server = listen(service.app, config.port, config.host, config.connections, () => {
    if (announce) logger.info(startupLine(config));
  });
  server.once('error', (error: NodeJS.ErrnoException) => {
    // EADDRINUSE, EACCES, an address this machine does not have: say so and stop.
    logger.fatal({ reason: error.message, code: error.code }, `can't listen on ${config.host}:${config.port}`);
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    // Under a cluster a worker hears of a stop twice when the whole process
    // group is signalled (systemd, a container runtime, Ctrl-C): once itself,
    // once from the primary. The drain already under way carries on.
    if (stopping) return;
    stopping = true;
    if (!server.listening) process.exit(0); // still binding: nothing in flight to finish
    logger.info(`${signal}: finishing requests in flight (up to ${config.shutdownGraceSeconds} s), then stopping`);
    // Readiness turns 503 first, so load balancers stop sending; answers
    // from now on close their connection.
    service.beginShutdown();
    setTimeout(() => {
      // Stop accepting; keep-alive connections close as soon as they are idle.
      const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = setTimeout(() => {
        logger.warn('grace period over: closing the connections still open');
        server.closeAllConnections();
      }, config.shutdownGraceSeconds * 1000);
      server.close(() => {
        clearInterval(closeIdle);
        clearTimeout(deadline);
        void service.close().then(() => {
          logger.info('stopped');
          process.exit(0);
        });
      });
    }, config.shutdownReadinessDelaySeconds * 1000);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function runPrimary(config: Config, logger: Logger): void {
  let stopping = false;
  let exitCode = 0;
  const listening = new Set<number>();
  const running = new Set<number>();
  const restarts = new Set<NodeJS.Timeout>();
  const fork = () => running.add(cluster.fork().id);
  for (let i = 0; i < config.webConcurrency; i += 1) fork();
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (listening.size === config.webConcurrency) logger.info(startupLine(config));
  });
  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    // A worker that crashed just before is not replaced: nothing would stop it.
    for (const restart of restarts) clearTimeout(restart);
    logger.info(`${reason}: stopping ${config.webConcurrency} workers`);
    if (running.size === 0) process.exit(exitCode);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  cluster.on('exit', (worker, code, signal) => {
    running.delete(worker.id);
    if (stopping) {
      if (running.size === 0) process.exit(exitCode);
      return;
    }
    if (!listening.has(worker.id)) {
      // It never served: restarting would fail the same way (a taken port, say).
      logger.fatal({ pid: worker.process.pid, code }, 'a worker failed to start');
      stop('start-up failed', 1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    const restart = setTimeout(() => {
      restarts.delete(restart);
      fork();
    }, WORKER_RESTART_DELAY_MS);
    restarts.add(restart);
  });
  // The signal's name only: a listener is also handed its number, which is not an exit code.
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

function startupLine(config: Config): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const database = describeDatabase(config.database);
  const workers = config.webConcurrency > 1 ? `, ${config.webConcurrency} workers` : '';
  const url = `http://${host}:${config.port}`;
  return `User service listening on ${url} (${database}${workers}; ${describeMailDestination(config.mail.smtpUrl)}); docs at ${url}${DOCS_PATH}`;
}
