import type { Express } from 'express';
import { createServer, type Server } from 'node:http';

// Bounds on how long a client may hold a connection: a slow or stalled client
// (slowloris) can't pin the server's sockets.
export const SERVER_TIMEOUTS = {
  headersTimeout: 10_000, // all request headers within 10 s
  requestTimeout: 30_000, // the whole request within 30 s
  keepAliveTimeout: 5_000, // idle keep-alive connections closed after 5 s
} as const;

/** An HTTP server for the app with the timeouts above, listening on port and host. */
export function listen(app: Express, port: number, host: string, onListening?: () => void): Server {
  const server = createServer(
    { headersTimeout: SERVER_TIMEOUTS.headersTimeout, requestTimeout: SERVER_TIMEOUTS.requestTimeout },
    app,
  );
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeout;
  return server.listen(port, host, onListening);
}
