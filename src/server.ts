import 'reflect-metadata';
import http from 'node:http';
import express from 'express';
import pino, { Logger } from 'pino';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { DataSource } from 'typeorm';
import { Config } from './config';
import { resolveAuthSecret, Role } from './common/auth';
import { formatError } from './common/error-boundary';
import { authenticateFirst, authorizeFirst, errorHandler, graphqlBody, notFound, viewerOf as authenticatedViewer } from './common/http';
import { armorLimits, documentSizeRule, introspectionAliasRule, limitsPlugin, MAX_TOKENS } from './common/limits';
import { Metrics } from './common/metrics';
import { connectionPools } from './db/data-source';
import { createContext, RequestContext } from './context';
import { buildSchema } from './schema';
import { createServices, Services } from './services';
import { ConcurrencyBudget } from './common/budget';
import { datasetRoutes } from './http/dataset-routes';
import { objectionsUpload } from './http/objections-upload';
import { periodicCheckpoints, stopsWithServer } from './http/plugins/checkpoints';
import { operationLog } from './http/plugins/operation-log';
import { replicaRouting } from './http/plugins/replica-routing';
import { requireAuthentication } from './http/plugins/require-authentication';
import { ideRoutes, requestLog, serviceRoutes } from './http/routes';

/**
 * Composition only: the services, the GraphQL server with its plugins (src/http/plugins/), and the HTTP routes in
 * order (src/http/routes.ts, the modules' routes through their adapters in src/http/), with the error boundary
 * (src/common/error-boundary.ts) behind both.
 */

export interface App {
  app: express.Express;
  httpServer: http.Server;
  apollo: ApolloServer<RequestContext>;
  services: Services;
  secret: Uint8Array;
  log: Logger;
  /** The Prometheus registry behind GET /metrics. */
  metrics: Metrics;
  /** Stops the periodic audit checkpoints (also done by apollo.stop()). */
  stopCheckpoints(): void;
}

/** Builds the HTTP application (no listen): GraphQL, health endpoints. Reused by main and by the tests. */
export async function createApp(config: Config, dataSource: DataSource, log: Logger = pino({ level: config.logLevel })): Promise<App> {
  const metrics = new Metrics(() => {
    const pool = connectionPools(dataSource).primary;
    return pool && typeof pool.totalCount === 'number'
      ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
      : undefined;
  });
  const services = createServices(metrics);
  const secret = resolveAuthSecret(config);
  const checkpoints = periodicCheckpoints(config, dataSource, services, log);
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const schema = buildSchema();
  const armor = armorLimits();
  const apollo = new ApolloServer<RequestContext>({
    schema,
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      stopsWithServer(checkpoints),
      requireAuthentication,
      ...armor.plugins,
      limitsPlugin(schema),
      ...(config.replicaUrls.length ? [replicaRouting(dataSource)] : []),
      operationLog,
      metrics.graphqlPlugin(),
    ],
    validationRules: [documentSizeRule, ...armor.validationRules, introspectionAliasRule],
    parseOptions: { maxTokens: MAX_TOKENS },
    formatError: formatError(config),
    includeStacktraceInErrorResponses: false,
    // No "Did you mean …" in validation errors in production (formatError covers variable coercion).
    hideSchemaDetailsFromClientErrors: config.production,
    introspection: config.introspection,
    csrfPrevention: true,
  });
  await apollo.start();

  app.use(requestLog(log));
  app.use(metrics.http());
  app.use(serviceRoutes(config, dataSource));
  app.get('/metrics', metrics.endpoint(config.metricsToken, config.production));
  // Routes beside /graphql take the same bearer token.
  app.use(datasetRoutes({ dataSource, services, config }, secret, metrics));
  if (config.ide) app.use(ideRoutes(config, secret));
  // Bulk objections as a streamed upload (CSV or NDJSON): token and role before the body, its own size limit.
  app.post(
    '/objections/import',
    authorizeFirst(secret, config, [Role.PRIVACY_OFFICER], 'POST /objections/import'),
    objectionsUpload({ dataSource, services, config }, new ConcurrencyBudget(config.importConcurrency)),
  );
  // The token is checked before the body is read; the body limit depends on it (see src/common/http.ts).
  app.use(
    '/graphql',
    authenticateFirst(secret, config),
    graphqlBody(config),
    expressMiddleware(apollo, {
      context: async ({ req, res }) =>
        createContext({ dataSource, services, config, log: req.log }, authenticatedViewer(res), String(req.id)),
    }),
  );
  app.use(notFound());
  app.use(errorHandler());
  return { app, httpServer, apollo, services, secret, log, metrics, stopCheckpoints: checkpoints.stop };
}
