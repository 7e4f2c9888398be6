import 'reflect-metadata';
import http from 'node:http';
import crypto from 'node:crypto';
import express from 'express';
import pino, { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { DocumentNode, GraphQLError, GraphQLFormattedError, Kind, visit } from 'graphql';
import type { DataSource } from 'typeorm';
import { Config } from './config';
import { authenticate, AuthenticationError, resolveAuthSecret, unauthenticated } from './common/auth';
import { authenticateFirst, authorizeFirst, errorHandler, graphqlBody, hasAlias, introspectionOnly, notFound, sendProblem, viewerOf as authenticatedViewer } from './common/http';
import { Metrics } from './common/metrics';
import { readiness } from './db/readiness';
import { DomainError, ErrorCode, isConnectionLost, RateLimitedError, shown } from './common/errors';
import { createContext, RequestContext } from './context';
import { buildSchema } from './schema';
import { createServices, Services } from './services';
import { exportDataset, ExportBudget } from './modules/datasets/dataset.export';
import { objectionsUpload } from './modules/consent/objections-upload';
import { cardData, cardHtml } from './modules/datasets/dataset.card';
import { CardLinkError, viewerOfCardLink } from './modules/datasets/card-link';
import { DATASET_READERS } from './modules/datasets/dataset.resolver';
import { hasRole, Role, signToken, type Viewer } from './common/auth';
import { devSubject } from './common/tokens';
import { ideRouter } from './ide/ide';
import { armorLimits, documentSizeRule, introspectionAliasRule, limitsPlugin, MAX_TOKENS } from './common/limits';
import { every } from './modules/audit/checkpoints';

/** How long a token that the IDE signs for a developer lasts. */
const DEV_TOKEN_LIFETIME_SECONDS = 3600;

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

/** The service's own audit checkpoints every AUDIT_CHECKPOINT_INTERVAL (none when 0); a refusal is logged as an error. */
function periodicCheckpoints(config: Config, dataSource: DataSource, services: Services, log: Logger): { stop(): void } {
  if (!config.auditCheckpointIntervalSeconds) return { stop: () => undefined };
  return every(config.auditCheckpointIntervalSeconds, async () => {
    const ctx = createContext({ dataSource, services, config, log }, { subject: 'system:audit-checkpoint', roles: [] });
    try {
      const outcome = await services.audit.checkpoint(ctx);
      if (outcome.created) log.info({ lastEventId: outcome.checkpoint!.lastEventId, eventCount: outcome.checkpoint!.eventCount }, 'audit checkpoint signed');
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'audit checkpoint refused');
    }
  });
}

/**
 * Fail closed: an operation without a valid token is refused as a whole, before any resolver runs. Without a token,
 * only introspection without aliases runs (what the IDE sends to load its docs: one copy of the schema at most).
 */
const requireAuthentication: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operation, document }) {
        if (!contextValue.viewer && !(operation && introspectionOnly(operation) && !hasAlias(document))) throw unauthenticated();
      },
    };
  },
};

/**
 * One log line per operation and per error, on the request's logger (so with its request id). Never variables, inputs,
 * content or error details: those can hold PII. Unexpected errors are logged by name, code and message only.
 */
const operationLog: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    const started = Date.now();
    return {
      async willSendResponse({ contextValue, operationName, operation, errors }) {
        contextValue.log?.info({ operationName, operationType: operation?.operation, ms: Date.now() - started, errorCodes: errors?.map((e) => e.extensions?.code ?? 'INTERNAL_SERVER_ERROR') }, 'graphql operation');
      },
      async didEncounterErrors({ contextValue, errors }) {
        for (const e of errors) {
          const original = e.originalError as (Error & { code?: string }) | undefined;
          if (!original || original instanceof DomainError || e.extensions?.code) continue;
          contextValue.log?.error({ err: { name: original.name, code: original.code, message: original.message }, path: e.path }, 'unexpected error');
        }
      },
    };
  },
};

/**
 * Query operations whose root fields all tolerate replication lag are served by a read replica (when
 * DATABASE_REPLICA_URLS is set); everything else, and every mutation, by the primary. A document that selects content
 * text or PII anywhere (HANDED_OUT) is served by the primary too: an objection or an erasure holds for what the service
 * hands out from the moment it commits, not once a standby has replayed it.
 */
export const REPLICA_READS = new Set(['lineage', 'subjectFootprint', 'eligibility', 'eligibleContent', 'eligibilityReport', 'dataset', 'datasets', 'trainingRun', 'trainingRuns', 'policy', 'policies', '__typename', '__schema', '__type']);
/** Fields that hand out content text or PII (ContentItem.text, User.email, handle, birthDate). */
const HANDED_OUT = new Set(['text', 'email', 'handle', 'birthDate']);
const handsOut = (document: DocumentNode) => {
  let found = false;
  visit(document, { Field: (f) => { if (HANDED_OUT.has(f.name.value)) found = true; } });
  return found;
};

function replicaRouting(dataSource: DataSource): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let release: (() => Promise<void>) | undefined;
      return {
        async didResolveOperation({ contextValue, operation, document }) {
          if (!operation || operation.operation !== 'query') return;
          const roots = operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '?'));
          if (!roots.every((r) => REPLICA_READS.has(r)) || handsOut(document)) return;
          const runner = dataSource.createQueryRunner('slave');
          contextValue.manager = runner.manager;
          release = () => runner.release();
        },
        async willSendResponse() {
          await release?.();
        },
      };
    },
  };
}

/** Maps domain errors to their codes and masks everything unexpected (no stack, SQL or internal message leaks). */
export function formatError(config: Config) {
  const format = maskErrors(config);
  if (!config.production) return format;
  // In production no message suggests names of the schema: validation (Apollo's hideSchemaDetailsFromClientErrors),
  // but also variable coercion ("Field "x" is not defined by type …", enum values), which it does not cover.
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    return { ...result, message: result.message.replace(/\s*Did you mean [^?]*\?/g, '') };
  };
}

function maskErrors(config: Config) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof DomainError) {
      const retry = original instanceof RateLimitedError ? { retryAfterSeconds: original.retryAfterSeconds } : {};
      return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: original.code, field: original.details[0]?.field, ...retry } };
    }
    // A document limit (armor's rules run in validation, which labels its errors GRAPHQL_VALIDATION_FAILED).
    if (original instanceof GraphQLError && original.extensions?.limit) {
      const { limit: _limit, http: _http, ...extensions } = original.extensions;
      return { message: original.message, extensions };
    }
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') {
      const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions: config.production ? { code } : extensions };
    }
    const pgCode = (original as { code?: string } | undefined)?.code;
    if (pgCode === '57014') {
      const message = 'The operation took longer than its time limit and was stopped; nothing was changed. Ask for less (smaller pages, fewer ids)';
      return { message, path: formatted.path, extensions: { code: ErrorCode.TIMEOUT } };
    }
    if (isConnectionLost(original)) {
      return { message: 'The database connection was lost; retry the request', path: formatted.path, extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } };
    }
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

/** Builds the HTTP application (no listen): GraphQL, health endpoints. Reused by main and by the tests. */
export async function createApp(config: Config, dataSource: DataSource, log: Logger = pino({ level: config.logLevel })): Promise<App> {
  const metrics = new Metrics(() => {
    const pool = (dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
    return pool && typeof pool.totalCount === 'number' ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
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
      { async serverWillStart() { return { async serverWillStop() { checkpoints.stop(); } }; } },
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

  // Every log line of a request carries its id (X-Request-Id when the caller sends a sane one). Headers are not
  // logged: the Authorization header is a credential.
  app.use(
    pinoHttp({
      logger: log,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : crypto.randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: String(req.url).split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
    }),
  );
  app.use(metrics.http());
  app.get('/', (_req, res) => {
    res.json({
      service: 'ai-data-governance',
      graphql: '/graphql',
      objectionsImport: 'POST /objections/import (text/csv or application/x-ndjson)',
      ide: config.ide ? '/graphql (open it in a browser)' : null,
      health: '/healthz',
      ready: '/readyz',
      metrics: '/metrics',
      docs: 'README.md in the repository',
    });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Names what fails: { status, failing: ['database' | 'migrations' | 'replica[i]'], checks: { name: { status, message } } }.
  app.get('/readyz', async (_req, res, next) => {
    try {
      const ready = await readiness(dataSource);
      res.status(ready.status === 'ready' ? 200 : 503).json(ready);
    } catch (err) {
      next(err);
    }
  });
  app.get('/metrics', metrics.endpoint(config.metricsToken, config.production));
  // Routes beside /graphql take the same bearer token.
  const viewerOf = async (req: express.Request, res: express.Response) => {
    try {
      const viewer = await authenticate(secret, req.headers.authorization, config.tokenMaxLifetimeSeconds);
      if (!viewer) sendProblem(res, 401, 'UNAUTHENTICATED', 'Authentication required: send "Authorization: Bearer <token>"');
      return viewer;
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      sendProblem(res, 401, 'UNAUTHENTICATED', err.message);
      return undefined;
    }
  };
  const exportBudget = new ExportBudget(config.exportConcurrency);
  app.get('/datasets/:id/export.ndjson', async (req, res, next) => {
    try {
      const viewer = await viewerOf(req, res);
      if (viewer) await exportDataset(createContext({ dataSource, services, config, log: req.log }, viewer, String(req.id)), req, res, exportBudget, metrics);
    } catch (err) {
      if (res.headersSent) res.destroy(err as Error);
      else next(err);
    }
  });
  // The IDE; outside production, it signs development tokens for the role a developer picks (never in production).
  const devTokenSeconds = Math.min(DEV_TOKEN_LIFETIME_SECONDS, config.tokenMaxLifetimeSeconds);
  const devToken = async (role: Role) => ({
    token: await signToken(secret, devSubject(role), [role], `${devTokenSeconds}s`, config.tokenMaxLifetimeSeconds),
    subject: devSubject(role),
    expiresInSeconds: devTokenSeconds,
  });
  if (config.ide) app.use(ideRouter(config.production ? {} : { devToken }));
  // The HTML card: with the bearer token, or in a plain browser tab with a signed link from dataset.cardUrl (?sig=…).
  app.get('/datasets/:id/card', async (req, res, next) => {
    try {
      const sig = typeof req.query.sig === 'string' ? req.query.sig : undefined;
      let viewer: Viewer | undefined;
      if (sig && !req.headers.authorization) {
        viewer = await viewerOfCardLink(config, String(req.params.id), sig).catch((err) => {
          if (!(err instanceof CardLinkError)) throw err;
          sendProblem(res, err.status, err.code, err.message);
          return undefined;
        });
      } else {
        viewer = await viewerOf(req, res);
      }
      if (!viewer) return;
      if (!hasRole(viewer, ...DATASET_READERS)) {
        sendProblem(res, 403, 'FORBIDDEN', `dataset cards are for ${DATASET_READERS.join(', ')}`);
        return;
      }
      const ctx = createContext({ dataSource, services, config, log: req.log }, viewer, String(req.id));
      const dataset = await services.datasets.get(ctx, String(req.params.id)).catch((err) => {
        if (err instanceof DomainError) return undefined;
        throw err;
      });
      if (!dataset) {
        sendProblem(res, 404, 'NOT_FOUND', `No dataset ${shown(String(req.params.id))}`);
        return;
      }
      // No referrer: the page's address may hold a signed link.
      res.type('html').set({ 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'", 'referrer-policy': 'no-referrer', 'cache-control': 'private, no-store' })
        .send(cardHtml(await cardData(ctx, dataset)));
    } catch (err) {
      next(err);
    }
  });
  // Bulk objections as a streamed upload (CSV or NDJSON): token and role before the body, its own size limit.
  app.post(
    '/objections/import',
    authorizeFirst(secret, config, [Role.PRIVACY_OFFICER], 'POST /objections/import'),
    objectionsUpload({ dataSource, services, config }, new ExportBudget(config.importConcurrency)),
  );
  // The token is checked before the body is read; the body limit depends on it (see src/common/http.ts).
  app.use(
    '/graphql',
    authenticateFirst(secret, config),
    graphqlBody(config),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => createContext({ dataSource, services, config, log: req.log }, authenticatedViewer(res), String(req.id)),
    }),
  );
  app.use(notFound());
  app.use(errorHandler());
  return { app, httpServer, apollo, services, secret, log, metrics, stopCheckpoints: checkpoints.stop };
}
