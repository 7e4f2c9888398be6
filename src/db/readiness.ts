import type { DataSource } from 'typeorm';
import { connectionPools } from './data-source';

/** One dependency's state, as /readyz reports it (no connection strings, no credentials). */
export interface Check {
  status: 'ok' | 'unreachable' | 'pending' | 'unknown';
  message?: string;
  pending?: string[];
}

export interface Readiness {
  status: 'ready' | 'unavailable';
  /** The dependencies that fail, by name: `database`, `migrations`, `replica[0]`… */
  failing: string[];
  checks: Record<string, Check>;
}

const TIMEOUT_MS = 3000;

/** Rejects after `ms` (a check that hangs, e.g. on an exhausted pool, fails instead of holding the probe). */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** What went wrong, without anything that could hold a secret (pg's messages name hosts and ports, not passwords). */
const reason = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return [e.code, e.message?.replace(/postgres(ql)?:\/\/\S+/g, '<url>').slice(0, 200)].filter(Boolean).join(': ') || 'failed';
};

/**
 * Checks every dependency the service needs to answer: the primary database (a round trip), its migrations (all
 * applied), and each read replica when configured. Each check has its own time limit.
 */
export async function readiness(dataSource: DataSource): Promise<Readiness> {
  const checks: Record<string, Check> = {};
  try {
    await within(TIMEOUT_MS, dataSource.query('SELECT 1'));
    checks.database = { status: 'ok' };
  } catch (err) {
    checks.database = { status: 'unreachable', message: reason(err) };
  }
  if (checks.database.status === 'ok') {
    try {
      const table = dataSource.options.migrationsTableName ?? 'migrations';
      const rows: { name: string }[] = await within(TIMEOUT_MS, dataSource.query(`SELECT name FROM "${table}"`));
      const applied = new Set(rows.map((r) => r.name));
      const pending = dataSource.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !applied.has(n));
      checks.migrations = pending.length
        ? {
            status: 'pending',
            pending,
            message: `${pending.length} migration(s) not applied: run "npm run cli -- db migrate" or restart the server`,
          }
        : { status: 'ok' };
    } catch (err) {
      checks.migrations = { status: 'unknown', message: reason(err) };
    }
  } else {
    checks.migrations = { status: 'unknown', message: 'the database is unreachable' };
  }
  await Promise.all(
    connectionPools(dataSource).replicas.map(async (pool, i) => {
      try {
        await within(TIMEOUT_MS, pool.query('SELECT 1'));
        checks[`replica[${i}]`] = { status: 'ok' };
      } catch (err) {
        checks[`replica[${i}]`] = { status: 'unreachable', message: reason(err) };
      }
    }),
  );
  const failing = Object.entries(checks)
    .filter(([, c]) => c.status !== 'ok')
    .map(([name]) => name);
  return { status: failing.length ? 'unavailable' : 'ready', failing, checks };
}
