// First: tracing instruments http, express, graphql and pg as they are loaded (nothing is loaded when it is off).
import { tracing } from './instrumentation';
import 'reflect-metadata';
import pino from 'pino';
import { ConfigError, loadConfig } from './config';
import { openDatabase } from './db/data-source';
import { EmbeddedBusyError } from './db/embedded-lock';
import { createApp } from './server';
import { createContext } from './context';
import { ALL_ROLES, signToken } from './common/auth';
import { devSubject } from './common/tokens';
import { seedDemoDataset, seedDemoIfEmpty } from './modules/seed';

/** Process entry: configuration, database (real or embedded), migrations, demo data, HTTP server. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  // With tracing, every log line of a request names its trace (trace_id, span_id).
  const log = pino({ level: config.logLevel, ...(tracing ? { mixin: tracing.logFields } : {}) });
  let db;
  try {
    db = await openDatabase(config, {
      log,
      statementTimeoutMs: config.statementTimeoutMs,
      role: 'server',
      progress: (step) => log.info(step),
    });
  } catch (err) {
    if (!(err instanceof EmbeddedBusyError)) throw err;
    console.error(`failed to start: ${err.message}`);
    process.exit(3);
  }
  const { httpServer, services, secret, stopCheckpoints } = await createApp(config, db.dataSource, log);
  if (config.seedDemo) {
    const system = createContext({ dataSource: db.dataSource, services, config, log }, { subject: 'system:demo-seed', roles: [] });
    log.info('loading the demo data set if the database has no users (SEED_DEMO=false: never)');
    if (await seedDemoIfEmpty(system)) {
      await seedDemoDataset(system, services.datasets);
      log.info("loaded the demo data set (and its demo dataset, which the IDE's examples name)");
    }
  }
  try {
    await new Promise<void>((resolve, reject) => httpServer.once('error', reject).listen(config.port, config.host, resolve));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    console.error(
      code === 'EADDRINUSE'
        ? `failed to start: port ${config.port} on ${config.host} is in use (another copy of the service?): stop what listens there, or choose another port, e.g. PORT=${config.port + 1} npm start`
        : `failed to start: no permission to listen on port ${config.port}: choose a port above 1023, e.g. PORT=4000 npm start`,
    );
    await db.close();
    process.exit(2);
  }
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const base = `http://localhost:${port}`;
  db.announce({ port });
  log.info({ port, storage: db.mode }, 'listening');
  if (!config.production) {
    const lines = [
      '',
      `AI data-governance API ready: GraphQL IDE and endpoint on ${base}/graphql  (storage: ${db.mode === 'embedded' ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL'})`,
      `Health: ${base}/healthz   Ready: ${base}/readyz`,
      'Development tokens (send as "Authorization: Bearer <token>"):',
    ];
    for (const role of ALL_ROLES)
      lines.push(`  ${role.padEnd(16)} ${await signToken(secret, devSubject(role), [role], undefined, config.tokenMaxLifetimeSeconds)}`);
    lines.push(
      `Try: curl -s ${base}/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"query":"{ users(first: 5) { totalCount edges { node { id country } } } }"}'`,
      '',
    );
    process.stderr.write(lines.join('\n') + '\n');
  }
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    stopCheckpoints();
    httpServer.close();
    await db.close();
    await tracing?.shutdown().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error('failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
