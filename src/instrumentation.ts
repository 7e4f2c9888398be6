import { startTracing } from './common/tracing';

/**
 * Imported first by main.ts: tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) must patch http, express, graphql and
 * pg before anything requires them. Nothing else may be imported here.
 */
export const tracing = startTracing();
