import crypto from 'node:crypto';
import express from 'express';
import { Kind } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorCode, TransportCode } from './errors';
import { sendProblem } from './http';

/**
 * Prometheus metrics (prom-client), one registry per application. Labels are bounded and never carry what a client
 * chose freely (operation names, paths, ids) or PII: HTTP requests by route pattern, GraphQL operations by the
 * schema's root field, errors by code.
 */

/** Every code a label may take; anything else counts as OTHER. */
const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  // Apollo Server's own codes (its BAD_REQUEST is TransportCode.BAD_REQUEST's wire string).
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  TransportCode.BAD_REQUEST,
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);
const codeLabel = (code: unknown) => (typeof code === 'string' && KNOWN_CODES.has(code) ? code : 'OTHER');

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Observes a duration started earlier, with its labels. */
export type DurationTimer<L extends string> = (labels: Record<L, string>) => number;

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly operations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by type, root field (one count per root field; "(invalid)" before an operation resolved) and outcome (ok or the first error code)',
    labelNames: ['type', 'field', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly operationDuration = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'GraphQL operation duration by type and root field',
    labelNames: ['type', 'field'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'graphql_errors_total',
    help: 'GraphQL errors by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly datasetBuild = new Histogram({
    name: 'dataset_build_duration_seconds',
    help: 'Dataset version builds (request, derive, remediate) by origin, database (postgres or citus) and outcome (ok or failed), from the name lock to the stored version',
    labelNames: ['origin', 'database', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly datasetExport = new Histogram({
    name: 'dataset_export_duration_seconds',
    help: 'Dataset exports that streamed, by format and outcome (ok; failed: client gone, too slow or database error), from the connection to the last line',
    labelNames: ['format', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });

  constructor(pool?: () => PoolStats | undefined) {
    // Node's own: CPU, memory, GC, handles and the event loop's delay (nodejs_eventloop_lag_p99_seconds and friends,
    // from perf_hooks.monitorEventLoopDelay, reset at every scrape).
    collectDefaultMetrics({ register: this.registry });
    if (pool) {
      new Gauge({
        name: 'db_pool_connections',
        help: 'Connections of the primary database pool by state (busy, idle; waiting: requests queued for one)',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const s = pool();
          if (!s) return;
          this.set({ state: 'busy' }, s.total - s.idle);
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'waiting' }, s.waiting);
        },
      });
    }
  }

  /** Starts timing a dataset build; the function it returns observes it (once). */
  datasetBuildTimer(): DurationTimer<'origin' | 'database' | 'outcome'> {
    return this.datasetBuild.startTimer();
  }

  /** Starts timing a dataset export; the function it returns observes it (once). */
  datasetExportTimer(): DurationTimer<'format' | 'outcome'> {
    return this.datasetExport.startTimer();
  }

  /** Counts and times every HTTP request by its route pattern (`/datasets/:id/card`, not the id). */
  http(): express.RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      res.once('finish', () => {
        const route =
          (res.locals.route as string | undefined) ?? (req.route ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || 'other');
        const labels = { method: req.method.length <= 7 ? req.method : 'OTHER', route, status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        end(labels);
      });
      next();
    };
  }

  /** Counts and times GraphQL operations by root field and outcome, and errors by code. */
  graphqlPlugin(): ApolloServerPlugin {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the plugin's hooks are called with their own `this`
    const metrics = this;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse({ operation, errors }) {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            const type = operation?.operation ?? 'unknown';
            // Only a resolved operation has been validated against the schema: its field names are bounded.
            const fields = operation
              ? [...new Set(operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : 'fragment')))]
              : ['(invalid)'];
            const outcome = errors?.length ? codeLabel(errors[0].extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : 'ok';
            for (const field of fields) {
              metrics.operations.inc({ type, field, outcome });
              metrics.operationDuration.observe({ type, field }, seconds);
            }
            for (const e of errors ?? []) metrics.errors.inc({ code: codeLabel(e.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) });
          },
        };
      },
    };
  }

  /**
   * GET /metrics: with METRICS_TOKEN, only for "Authorization: Bearer <METRICS_TOKEN>"; without it, open outside
   * production and off (404) in production.
   */
  endpoint(token: string | undefined, production: boolean): express.RequestHandler {
    const expected = token ? crypto.createHash('sha256').update(token).digest() : undefined;
    return async (req, res, next) => {
      try {
        if (!expected) {
          if (production) return sendProblem(res, ErrorCode.NOT_FOUND, 'Metrics are off: set METRICS_TOKEN to serve them');
        } else {
          const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization?.trim() ?? '')?.[1] ?? '';
          if (!crypto.timingSafeEqual(crypto.createHash('sha256').update(given).digest(), expected)) {
            return sendProblem(res, ErrorCode.UNAUTHENTICATED, 'Metrics need "Authorization: Bearer <METRICS_TOKEN>"');
          }
        }
        res.type(this.registry.contentType).send(await this.registry.metrics());
      } catch (err) {
        next(err);
      }
    };
  }
}
