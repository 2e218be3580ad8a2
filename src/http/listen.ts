import type { Express } from 'express';
import { createServer, type Server } from 'node:http';
import type { ConnectionLimits } from '../config.js';

// Bounds on how long a client may hold a connection: a slow or stalled client
// (slowloris) can't pin the server's sockets.
export const SERVER_TIMEOUTS = {
  requestTimeout: 30_000, // the whole request within 30 s
  keepAliveTimeout: 5_000, // idle keep-alive connections closed after 5 s
  // How often Node looks for connections past those timeouts. Its default,
  // 30 s, let a stalled client keep a socket for up to 40 s on a 10 s limit.
  connectionsCheckingInterval: 1_000,
} as const;

/** An HTTP server for the app with the bounds above, listening on port and host. */
export function listen(
  app: Express,
  port: number,
  host: string,
  limits: ConnectionLimits,
  onListening?: () => void,
): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: SERVER_TIMEOUTS.requestTimeout,
      connectionsCheckingInterval: SERVER_TIMEOUTS.connectionsCheckingInterval,
    },
    app,
  );
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeout;
  server.maxConnections = limits.maxConnections;
  return server.listen(port, host, onListening);
}
