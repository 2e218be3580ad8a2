// Prometheus metrics (prom-client): requests by route and status with their
// latency, the outcomes of operations that ask for a counter of their own
// (`x-outcome-metric` in the spec: logins), and open sessions, served at
// GET /metrics.
import type { RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Operation } from './operations.js';
import './request-context.js';

export interface MetricsSettings {
  enabled: boolean;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  token: string | undefined;
}

/** An operation's outcome by status: what a dashboard of logins, say, wants to tell apart. */
function outcomeOf(status: number): string {
  if (status >= 200 && status < 300) return 'success';
  if (status === 401) return 'failure';
  if (status === 429 || status === 503) return 'limited';
  return 'rejected';
}

export interface Metrics {
  /** Counts every finished request; mount it before anything that answers. */
  record: RequestHandler;
  /** GET /metrics when enabled, by path, for `fixedRoutes`. */
  routes: Record<string, RequestHandler>;
}

export function createMetrics(
  settings: MetricsSettings,
  activeSessions: () => Promise<number>,
  operations: Operation[],
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const outcomeCounters = new Map<string, Counter<'outcome'>>();
  for (const name of new Set(operations.flatMap((operation) => operation.outcomeMetric ?? []))) {
    const counter = new Counter({
      name: `user_service_${name}_total`,
      help: `${name[0].toUpperCase()}${name.slice(1)} by outcome: success (2xx), failure (401), limited (429, 503), rejected (anything else)`,
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    outcomeCounters.set(name, counter);
  }
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
    const method = req.method; // as sent: HEAD is answered as GET
    res.on('finish', () => {
      // The spec's route, not the raw path: one series per operation.
      const labels = { method, route: req.operation?.path ?? 'unmatched', status: String(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      const outcomes = req.operation?.outcomeMetric && outcomeCounters.get(req.operation.outcomeMetric);
      if (outcomes) outcomes.inc({ outcome: outcomeOf(res.statusCode) });
    });
    next();
  };

  const serveMetrics: RequestHandler = async (req, res) => {
    if (settings.token !== undefined && !bearerMatches(req.headers.authorization, settings.token)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'Unauthorized' });
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
