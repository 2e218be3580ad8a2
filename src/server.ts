// Starts the service: reads the configuration, prepares the database and
// listens. With WEB_CONCURRENCY=N > 1, this process becomes a node:cluster
// primary that migrates once, then runs N workers sharing the port.
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createService, prepareDatabase } from './compose.js';
import { DOCS_PATH } from './http/docs.js';
import { listen } from './http/listen.js';
import { createLogger, type Logger } from './logger.js';
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
  else logger.fatal({ reason: (error as Error).message }, 'start-up failed');
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
  const stop = (signal: string) => {
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
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function runPrimary(config: Config, logger: Logger): void {
  let stopping = false;
  let exitCode = 0;
  const listening = new Set<number>();
  for (let i = 0; i < config.webConcurrency; i += 1) cluster.fork();
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (listening.size === config.webConcurrency) logger.info(startupLine(config));
  });
  const stop = (reason: string, code = 0) => {
    stopping = true;
    exitCode = code;
    logger.info(`${reason}: stopping ${config.webConcurrency} workers`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    if (!listening.has(worker.id)) {
      // It never served: restarting would fail the same way (a taken port, say).
      logger.fatal({ pid: worker.process.pid, code }, 'a worker failed to start');
      stop('start-up failed', 1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    setTimeout(() => cluster.fork(), WORKER_RESTART_DELAY_MS).unref();
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function startupLine(config: Config): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const database = describeDatabase(config.database);
  const workers = config.webConcurrency > 1 ? `, ${config.webConcurrency} workers` : '';
  const url = `http://${host}:${config.port}`;
  return `User service listening on ${url} (${database}${workers}; ${describeMailDestination(config.mail.smtpUrl)}); docs at ${url}${DOCS_PATH}`;
}
