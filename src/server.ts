// Starts the service: reads the configuration, opens the database and listens.
import { ConfigError, loadConfig, type Config } from './config.js';
import { createService } from './compose.js';
import { createLogger } from './logger.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Configuration error: ${error.message}`);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
for (const warning of config.warnings) logger.warn(warning);

try {
  const service = await createService(config, logger);
  const server = service.app.listen(config.port, config.host, () => {
    const database = config.database.client === 'sqlite' ? `SQLite ${config.database.filename}` : 'PostgreSQL';
    logger.info(`User service listening on http://${displayHost(config.host)}:${config.port} (${database})`);
  });
  const stop = (signal: string) => {
    logger.info(`${signal}: closing`);
    server.close(() => void service.close().then(() => process.exit(0)));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  logger.fatal({ err: (error as Error).message }, 'start-up failed');
  process.exit(1);
}

function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? 'localhost' : host;
}
