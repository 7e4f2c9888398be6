import path from 'node:path';
import { auditKeyProblems } from './common/signing-keys';

/** Validated process configuration. Every setting the service reads from the environment is here. */
export interface Config {
  port: number;
  host: string;
  nodeEnv: string;
  production: boolean;
  dataDir: string;
  databaseUrl?: string;
  /** Streaming replicas for read-only operations (DATABASE_REPLICA_URLS, comma-separated). */
  replicaUrls: string[];
  authSecret?: string;
  logLevel: string;
  seedDemo: boolean;
  defaultPolicyKey: string;
  /** Serve the GraphQL IDE on GET /graphql (default: on outside production). */
  ide: boolean;
  /** Answer introspection queries (default: on outside production). */
  introspection: boolean;
  /** Largest /graphql request body accepted from an authenticated caller, in bytes (BODY_LIMIT_MB, default 1). */
  bodyLimit: number;
  /** Bearer secret that /metrics requires (METRICS_TOKEN); unset: /metrics is open outside production, off in it. */
  metricsToken?: string;
  /**
   * Largest body of a bulk upload (POST /objections/import), in bytes (IMPORT_BODY_LIMIT_MB, default 200): streamed,
   * never held in memory whole.
   */
  importBodyLimit: number;
  /** Uploads that may hold a database connection at once; more are refused with 503 BUSY (IMPORT_CONCURRENCY). */
  importConcurrency: number;
  /** Longest wait for the next bytes of an upload, in milliseconds, before it is cut (IMPORT_IDLE_TIMEOUT_SECONDS). */
  importIdleTimeoutMs: number;
  /** Exports that may hold a database connection at once; more are refused with 503 BUSY (EXPORT_CONCURRENCY). */
  exportConcurrency: number;
  /** Window over which an export's client must keep up (EXPORT_IDLE_TIMEOUT_SECONDS), in milliseconds. */
  exportIdleTimeoutMs: number;
  /** Slowest reading accepted over that window while the export waits for the client (EXPORT_MIN_KB_PER_SECOND). */
  exportMinBytesPerSecond: number;
  /** Whole-corpus evaluations (eligibility reports and counts, taint, lineage…) running at once, in all (CORPUS_CONCURRENCY). */
  corpusConcurrency: number;
  /** Of those, how many one role may run at once (CORPUS_CONCURRENCY_PER_ROLE); more are refused with 429 RATE_LIMITED. */
  corpusConcurrencyPerRole: number;
  /** statement_timeout of ordinary requests (STATEMENT_TIMEOUT_SECONDS), in milliseconds. */
  statementTimeoutMs: number;
  /** statement_timeout of dataset builds and bulk imports (BUILD_STATEMENT_TIMEOUT_SECONDS); 0: none. */
  buildStatementTimeoutMs: number;
  /** statement_timeout of an export's COPY (EXPORT_STATEMENT_TIMEOUT_SECONDS). */
  exportStatementTimeoutMs: number;
  /** Longest lifetime (exp - iat) of a bearer token accepted or signed, in seconds (TOKEN_MAX_LIFETIME, default 12h). */
  tokenMaxLifetimeSeconds: number;
  /** Ed25519 private key signing audit checkpoints (AUDIT_SIGNING_KEY, PEM or base64 PKCS#8 DER); required in production. */
  auditSigningKey?: string;
  /** Public keys of earlier signing keys whose checkpoints still verify (AUDIT_PREVIOUS_PUBLIC_KEYS, comma-separated). */
  auditPreviousPublicKeys: string[];
  /** Where the append-only checkpoint file lives, outside the database (AUDIT_CHECKPOINT_DIR, default DATA_DIR/audit). */
  auditCheckpointDir: string;
  /** Seconds between the service's own checkpoints; 0 = none (AUDIT_CHECKPOINT_INTERVAL, default 5m). */
  auditCheckpointIntervalSeconds: number;
}

/** Connections in the service's pool (the embedded database has one). */
export const POOL_SIZE = 10;
/** Whole-corpus evaluations at once by default: half the pool, so that ordinary requests always find a connection. */
export const DEFAULT_CORPUS_CONCURRENCY = Math.floor(POOL_SIZE / 2);
/** Per role by default: no one role takes more than 2 of them. */
export const DEFAULT_CORPUS_CONCURRENCY_PER_ROLE = 2;

export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 12 * 3600;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "12h", "7d" as seconds; undefined when it is none of these or not positive. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's'] : 0;
  return seconds > 0 ? seconds : undefined;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses and validates the environment; throws ConfigError with every problem found. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const portText = env.PORT ?? '4000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) problems.push(`PORT must be an integer 0-65535, got "${portText}"`);
  const nodeEnv = env.NODE_ENV ?? 'development';
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  const replicaUrls = (env.DATABASE_REPLICA_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (replicaUrls.some((u) => !/^postgres(ql)?:\/\//.test(u)))
    problems.push('DATABASE_REPLICA_URLS must be postgres:// URLs separated by commas');
  if (replicaUrls.length && !databaseUrl) problems.push('DATABASE_REPLICA_URLS needs DATABASE_URL (the primary)');
  const authSecret = env.AUTH_SECRET || undefined;
  if (authSecret && authSecret.length < 32) problems.push('AUTH_SECRET must be at least 32 characters');
  const production = nodeEnv === 'production';
  if (production && !authSecret) {
    problems.push('AUTH_SECRET is required when NODE_ENV=production (refusing to start with a generated secret)');
  }
  const seedText = (env.SEED_DEMO ?? 'true').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(seedText)) problems.push(`SEED_DEMO must be true or false, got "${env.SEED_DEMO}"`);
  const bool = (name: string, fallback: boolean) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    if (!['true', 'false', '1', '0'].includes(v.toLowerCase())) problems.push(`${name} must be true or false, got "${v}"`);
    return v.toLowerCase() === 'true' || v === '1';
  };
  const ide = bool('ENABLE_IDE', !production);
  const introspection = bool('ENABLE_INTROSPECTION', !production) || ide;
  const bodyLimitText = env.BODY_LIMIT_MB || '1';
  const bodyLimitMb = Number(bodyLimitText);
  if (!(bodyLimitMb >= 0.01 && bodyLimitMb <= 1024))
    problems.push(`BODY_LIMIT_MB must be a number of megabytes 0.01-1024, got "${bodyLimitText}"`);
  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken && metricsToken.length < 16) problems.push('METRICS_TOKEN must be at least 16 characters');
  const lifetimeText = env.TOKEN_MAX_LIFETIME || '12h';
  const tokenMaxLifetimeSeconds = parseDuration(lifetimeText) ?? 0;
  if (!tokenMaxLifetimeSeconds)
    problems.push(`TOKEN_MAX_LIFETIME must be a positive duration such as 3600, 30m, 12h or 1d, got "${lifetimeText}"`);
  const auditSigningKey = env.AUDIT_SIGNING_KEY || undefined;
  const auditPreviousPublicKeys = (env.AUDIT_PREVIOUS_PUBLIC_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  problems.push(...auditKeyProblems(auditSigningKey, auditPreviousPublicKeys));
  if (production && !auditSigningKey) {
    problems.push(
      'AUDIT_SIGNING_KEY is required when NODE_ENV=production (an Ed25519 key kept outside the database signs audit checkpoints)',
    );
  }
  const intervalText = env.AUDIT_CHECKPOINT_INTERVAL || '5m';
  const auditCheckpointIntervalSeconds = ['0', 'off'].includes(intervalText) ? 0 : (parseDuration(intervalText) ?? -1);
  if (auditCheckpointIntervalSeconds < 0)
    problems.push(`AUDIT_CHECKPOINT_INTERVAL must be a duration such as 300, 5m or 1h, or off, got "${intervalText}"`);
  const number = (name: string, fallback: number, min: number, max: number, what: string) => {
    const text = env[name] || String(fallback);
    const value = Number(text);
    if (!(value >= min && value <= max)) problems.push(`${name} must be ${what} ${min}-${max}, got "${text}"`);
    return value;
  };
  const importBodyLimitMb = number('IMPORT_BODY_LIMIT_MB', 200, 0.01, 100_000, 'a number of megabytes');
  const importConcurrency = number('IMPORT_CONCURRENCY', 2, 1, 1000, 'a number of uploads');
  const importIdleTimeoutSeconds = number('IMPORT_IDLE_TIMEOUT_SECONDS', 30, 1, 3600, 'a number of seconds');
  const exportConcurrency = number('EXPORT_CONCURRENCY', 3, 1, 1000, 'a number of exports');
  const exportIdleTimeoutSeconds = number('EXPORT_IDLE_TIMEOUT_SECONDS', 30, 1, 3600, 'a number of seconds');
  const exportMinKbPerSecond = number('EXPORT_MIN_KB_PER_SECOND', 16, 0, 1_000_000, 'a number of kilobytes a second');
  const corpusConcurrency = number('CORPUS_CONCURRENCY', DEFAULT_CORPUS_CONCURRENCY, 1, POOL_SIZE - 1, 'a number of evaluations');
  const corpusConcurrencyPerRole = number(
    'CORPUS_CONCURRENCY_PER_ROLE',
    Math.min(DEFAULT_CORPUS_CONCURRENCY_PER_ROLE, corpusConcurrency),
    1,
    POOL_SIZE - 1,
    'a number of evaluations',
  );
  const statementTimeoutSeconds = number('STATEMENT_TIMEOUT_SECONDS', 30, 1, 86400, 'a number of seconds');
  const buildStatementTimeoutSeconds = number('BUILD_STATEMENT_TIMEOUT_SECONDS', 900, 1, 86400, 'a number of seconds');
  const exportStatementTimeoutSeconds = number('EXPORT_STATEMENT_TIMEOUT_SECONDS', 3600, 1, 86400, 'a number of seconds');
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    nodeEnv,
    production,
    dataDir: path.resolve(env.DATA_DIR ?? './.data'),
    databaseUrl,
    replicaUrls,
    authSecret,
    logLevel,
    seedDemo: seedText === 'true' || seedText === '1',
    defaultPolicyKey: env.DEFAULT_POLICY_KEY ?? 'eu-ai-training',
    ide,
    introspection,
    bodyLimit: Math.round(bodyLimitMb * 1024 * 1024),
    metricsToken,
    tokenMaxLifetimeSeconds,
    auditSigningKey,
    auditPreviousPublicKeys,
    auditCheckpointDir: path.resolve(env.AUDIT_CHECKPOINT_DIR ?? path.join(env.DATA_DIR ?? './.data', 'audit')),
    auditCheckpointIntervalSeconds,
    importBodyLimit: Math.round(importBodyLimitMb * 1024 * 1024),
    importConcurrency: Math.floor(importConcurrency),
    importIdleTimeoutMs: Math.round(importIdleTimeoutSeconds * 1000),
    exportConcurrency: Math.floor(exportConcurrency),
    exportIdleTimeoutMs: Math.round(exportIdleTimeoutSeconds * 1000),
    exportMinBytesPerSecond: Math.round(exportMinKbPerSecond * 1024),
    corpusConcurrency: Math.floor(corpusConcurrency),
    corpusConcurrencyPerRole: Math.floor(corpusConcurrencyPerRole),
    statementTimeoutMs: Math.round(statementTimeoutSeconds * 1000),
    buildStatementTimeoutMs: Math.round(buildStatementTimeoutSeconds * 1000),
    exportStatementTimeoutMs: Math.round(exportStatementTimeoutSeconds * 1000),
  };
}
