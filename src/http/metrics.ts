// Prometheus metrics (prom-client): requests by route and status with their
// latency, login outcomes, and open sessions, served at GET /metrics.
import type { RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import './request-context.js';

export interface MetricsSettings {
  enabled: boolean;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  token: string | undefined;
}

const LOGIN_OUTCOMES: Record<number, string> = { 200: 'success', 401: 'failure', 429: 'limited' };

export interface Metrics {
  /** Counts every finished request; mount it before anything that answers. */
  record: RequestHandler;
  /** GET /metrics when enabled, by path, for `fixedRoutes`. */
  routes: Record<string, RequestHandler>;
}

export function createMetrics(settings: MetricsSettings, activeSessions: () => Promise<number>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'Requests answered', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'user_service_logins_total',
    help: 'Logins by outcome: success, failure (401), limited (429), rejected (anything else)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  new Gauge({
    name: 'user_service_active_sessions',
    help: 'Sessions open now (unexpired, not logged out), across all instances',
    registers: [registry],
    async collect() {
      this.set(await activeSessions());
    },
  });

  const record: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The spec's route, not the raw path: one series per operation.
      const labels = { method: req.method, route: req.operation?.path ?? 'unmatched', status: String(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      if (req.operation?.id === 'login') logins.inc({ outcome: LOGIN_OUTCOMES[res.statusCode] ?? 'rejected' });
    });
    next();
  };

  const serveMetrics: RequestHandler = async (req, res) => {
    if (settings.token !== undefined && !bearerMatches(req.headers.authorization, settings.token)) {
      res.status(401).json({ error: 'Unauthorized' });
      return;
    }
    res.type(registry.contentType).send(await registry.metrics());
  };
  return { record, routes: settings.enabled ? { '/metrics': serveMetrics } : {} };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const sent = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}
