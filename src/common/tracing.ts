import type { IncomingMessage } from 'node:http';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry traces (the Node SDK with the HTTP, Express, GraphQL and pg instrumentations): one request from HTTP
 * through GraphQL into each SQL statement, on the PostgreSQL server and on the embedded database alike (the
 * application talks to both with `pg`). On only when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * is set; otherwise nothing of the SDK is even loaded. The standard OTEL_* variables apply (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_PROTOCOL and _HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*,
 * OTEL_SDK_DISABLED, OTEL_LOG_LEVEL). Traces only: metrics are Prometheus's (GET /metrics), logs pino's.
 *
 * No PII in a span: SQL text without its parameter values (our statements are parameterised), GraphQL documents with
 * every literal replaced by "*" and no variables, no request header, no query string, and no error message (a message
 * may quote a value: a GraphQL validation error quotes the literal it refused), only the error's type and stack frames.
 *
 * Must run before express, pg and graphql are first required: src/instrumentation.ts, imported first by main.ts.
 */

export interface Tracing {
  /** Exports what is still buffered and stops. */
  shutdown(): Promise<void>;
  /** The active trace and span ids, for log lines (pino's mixin): a log line leads to its trace. */
  logFields(): { trace_id?: string; span_id?: string };
}

/** Whether these variables ask for traces. */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return false;
  if (
    (env.OTEL_TRACES_EXPORTER ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes('none')
  )
    return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

const REDACTED = 'REDACTED';

/** The OTLP exporter for OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL (http/protobuf unless said otherwise). */
function otlpExporter(env: NodeJS.ProcessEnv): SpanExporter {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf';
  if (protocol === 'http/json') return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)();
  if (protocol === 'grpc') return new (require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter)();
  return new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)();
}

/** A stack trace without its first line (the error's message), frames only. */
const framesOnly = (stack: unknown) =>
  typeof stack === 'string'
    ? stack
        .split('\n')
        .filter((l) => /^\s+at /.test(l))
        .join('\n')
    : undefined;

/**
 * Hands spans on without error messages: exception events keep their type and stack frames, the status its code.
 * (The pg instrumentation already records only PostgreSQL's error codes; the GraphQL one records whole errors.)
 */
export class RedactingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans.map(redacted), done);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function redacted(span: ReadableSpan): ReadableSpan {
  const hasException = span.events.some((e) => e.name === 'exception');
  if (!hasException && !span.status.message) return span;
  const events = span.events.map((e) => {
    if (e.name !== 'exception') return e;
    const { 'exception.type': type, 'exception.stacktrace': stack } = e.attributes ?? {};
    const attributes = {
      'exception.type': type ?? 'Error',
      'exception.message': REDACTED,
      ...(framesOnly(stack) ? { 'exception.stacktrace': framesOnly(stack) } : {}),
    };
    return { ...e, attributes };
  });
  // The span keeps everything else (its prototype); only the redacted fields are its own.
  return Object.create(span, { events: { value: events }, status: { value: { code: span.status.code } } });
}

/** The instrumentations, configured so that no value reaches a span. */
function instrumentations() {
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = require('@opentelemetry/instrumentation-express');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
  const probes = new Set(['/healthz', '/readyz', '/metrics']);
  return [
    new HttpInstrumentation({
      // Probes and scrapes are not traced; nor is anything the service sends out (the exporter's own requests).
      ignoreIncomingRequestHook: (req: IncomingMessage) => probes.has(String(req.url).split('?')[0]),
      disableOutgoingRequestInstrumentation: true,
      // No header is recorded (none is configured); the query string may carry a signed token: its value is replaced.
      startIncomingSpanHook: (req: IncomingMessage) => (String(req.url).includes('?') ? { 'url.query': REDACTED } : {}),
    }),
    // Route handlers and routers; not each middleware (logging, metrics, the token check: a span each on every
    // request, and unnamed). The HTTP span still gets its route (`http.route`).
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    // No variables and no literal (allowValues: false); one span per field path, not per list item, and none for
    // fields read off their parent (a 100-item page makes a few spans, not thousands).
    new GraphQLInstrumentation({ allowValues: false, mergeItems: true, ignoreTrivialResolveSpans: true, depth: 6 }),
    // Statement text without parameter values; nothing outside a traced request (pool upkeep, checkpoints, migrations).
    new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true, addSqlCommenterCommentToQueries: false }),
  ];
}

/**
 * Starts tracing when the environment asks for it (see tracingWanted) or a test hands an exporter; returns undefined,
 * having loaded nothing, otherwise.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env, options: { exporter?: SpanExporter } = {}): Tracing | undefined {
  if (!options.exporter && !tracingWanted(env)) return undefined;
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const named = env.OTEL_SERVICE_NAME?.trim() || /(^|,)\s*service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    serviceName: named ? undefined : 'ai-data-governance',
    traceExporter: new RedactingExporter(options.exporter ?? otlpExporter(env)),
    instrumentations: instrumentations(),
    // Traces only: no OpenTelemetry metrics or logs (Prometheus and pino have them).
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const { trace } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  return {
    shutdown: () => sdk.shutdown(),
    logFields: () => {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  };
}
