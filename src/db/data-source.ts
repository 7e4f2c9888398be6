import { DataSource, MigrationExecutor } from 'typeorm';
import type { Logger } from 'pino';
import { types, type Pool } from 'pg';
import { Config, POOL_SIZE } from '../config';
import { migrations } from '../../migrations';
import { entities } from './entities';
import { startEmbeddedPostgres, EmbeddedPostgres } from './embedded';

/**
 * The `pg` pools behind a data source: the primary's, and one per read replica (TypeORM's driver keeps them as `master`
 * and `slaves`; the primary's is absent until the data source is initialized). The one place that reads them.
 */
export function connectionPools(dataSource: DataSource): { primary?: Pool; replicas: Pool[] } {
  const driver = dataSource.driver as unknown as { master?: Pool; slaves?: Pool[] };
  return { primary: driver.master, replicas: driver.slaves ?? [] };
}

/** The database the service runs on: the PostgreSQL in DATABASE_URL, or the embedded one in DATA_DIR. */
export interface Database {
  dataSource: DataSource;
  mode: 'postgres' | 'embedded';
  /** Number of read replicas in use. */
  replicas: number;
  url: string;
  /** Embedded only: tells other processes that try to open DATA_DIR who holds it (the server's port). */
  announce(info: { port?: number }): void;
  close(): Promise<void>;
}

/**
 * Connects, runs pending migrations and returns the data source. Both storage modes take this one path. On the embedded
 * database `role` names this process to another one that tries to open the same DATA_DIR (see embedded-lock.ts).
 */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & { replicaUrls?: string[] },
  options: {
    runMigrations?: boolean;
    poolSize?: number;
    log?: Logger;
    statementTimeoutMs?: number;
    role?: string;
    progress?: (step: string) => void;
  } = {},
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  const progress = options.progress ?? (() => undefined);
  progress(url ? 'connecting to PostgreSQL' : `opening the embedded database in ${config.dataDir}`);
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir, options.role);
    url = embedded.url;
  }
  const replicas = embedded ? [] : (config.replicaUrls ?? []);
  const dataSource = new DataSource({
    type: 'postgres',
    // With replicas, TypeORM keeps a pool per server: queries go to the primary unless a caller asks for a 'slave'
    // query runner (read-only operations, see server.ts).
    ...(replicas.length ? { replication: { master: { url }, slaves: replicas.map((r) => ({ url: r })) } } : { url }),
    entities,
    migrations,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    uuidExtension: 'pgcrypto',
    // An idle pooled connection that the server ends (restart, failover, pg_terminate_backend) is dropped by the pool;
    // the error is logged as one JSON line and never kills the process.
    poolErrorHandler: (err: Error & { code?: string }) =>
      options.log?.warn({ err: { name: err.name, code: err.code, message: err.message } }, 'database connection lost'),
    extra: {
      max: embedded ? 1 : (options.poolSize ?? POOL_SIZE),
      // Every session evaluates dates in UTC; the eligibility rules are defined on UTC calendar dates.
      // With a statement timeout (the server's), every statement of every session is bounded; longer kinds of work
      // (builds, exports, migrations) raise it for themselves.
      options: `-c timezone=UTC${options.statementTimeoutMs ? ` -c statement_timeout=${Math.round(options.statementTimeoutMs)}` : ''}`,
      connectionTimeoutMillis: 30000,
    },
  });
  try {
    await dataSource.initialize();
    if (options.runMigrations !== false) {
      progress('applying pending migrations');
      const applied = await runMigrationsUnbounded(dataSource);
      progress(applied.length ? `applied ${applied.length} migration(s): ${applied.map((m) => m.name).join(', ')}` : 'schema up to date');
    }
    // PGlite runs no autovacuum, so its planner statistics are only what ANALYZE last saw. Content is keyed
    // (id, author_id): without statistics a lookup of a few ids is planned as a scan of the table.
    if (embedded) await dataSource.query('ANALYZE');
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  }
  return {
    dataSource,
    mode: embedded ? 'embedded' : 'postgres',
    replicas: replicas.length,
    url,
    announce: (info) => embedded?.announce(info),
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

/** Applies pending migrations on one connection without the statement timeout (a migration may rewrite a big table). */
async function runMigrationsUnbounded(dataSource: DataSource): Promise<{ name: string }[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SET statement_timeout = 0');
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    await runner.query('RESET statement_timeout');
    return applied;
  } finally {
    await runner.release();
  }
}

// Calendar dates stay 'YYYY-MM-DD' strings: turning them into JS Dates would shift them by the host's time zone.
types.setTypeParser(1082, (value: string) => value);
// bigint ids stay strings (ids are opaque; counts are cast to int in SQL).
types.setTypeParser(20, (value: string) => value);
