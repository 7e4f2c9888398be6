import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { BusyError, DomainError, ErrorCode } from '../../common/errors';
import type { Metrics } from '../../common/metrics';
import type { ConcurrencyBudget } from '../../common/budget';
import { DATASET_EXPORTERS } from './dataset.roles';
import { exportStream, resetSessionTimeout, setSessionTimeout } from './dataset.export.store';

const EXPORT_RETRY_AFTER_SECONDS = 5;

export { EXPORT_SQL, exportStream, unescapeCopyText } from './dataset.export.store';

export class SlowClientError extends Error {}

/**
 * Passes the lines on and ends the export when the client is the bottleneck and takes less than `minBytesPerSecond`
 * over a whole window of `windowMs` (a client that stopped reading, or reads a trickle): its connection goes back.
 */
function slowClientGuard(out: Writable, windowMs: number, minBytesPerSecond: number): Transform {
  let passed = 0;
  let atWindowStart = 0;
  const guard = new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      passed += chunk.length;
      done(null, chunk);
    },
  });
  const timer = setInterval(() => {
    const moved = passed - atWindowStart;
    atWindowStart = passed;
    if (out.writableNeedDrain && moved < (minBytesPerSecond * windowMs) / 1000) {
      guard.destroy(new SlowClientError(`the client took ${moved} bytes in ${windowMs} ms`));
    }
  }, windowMs);
  timer.unref();
  guard.on('close', () => clearInterval(timer));
  return guard;
}

/**
 * A pooled connection for the export and the function that gives it back: a replica's when there are replicas and the
 * export carries no text; the primary's for text, so that an erasure holds for what is handed out once it commits.
 */
async function exportConnection(dataSource: DataSource, withText: boolean): Promise<[any, (err?: Error) => void]> {
  const driver = dataSource.driver as PostgresDriver;
  const [client, release] = driver.isReplicated && !withText ? await driver.obtainSlaveConnection() : await driver.obtainMasterConnection();
  return [client, release as (err?: Error) => void];
}

/** Where an allowed export goes: `open` starts the answer (status, headers) and returns the stream its lines go to. */
export interface ExportTarget {
  open(fileName: string): Writable;
  /** True once the answer has begun to go out: a failure can then only end it, no longer refuse it. */
  readonly sent: boolean;
}

/** What an export needs besides the caller (ctx.viewer): the dataset, where it may be read, and the shared limits. */
export interface ExportRequest {
  datasetId: string;
  /** The version that may be handed out (DatasetService.exportable): refuses tainted or superseded versions. */
  exportable: (ctx: RequestContext, id: string) => Promise<{ id: string }>;
  budget: ConcurrencyBudget;
  metrics?: Pick<Metrics, 'datasetExportTimer'>;
}

/**
 * GET /datasets/{id}/export.ndjson: streams the members from PostgreSQL through a cursor, with back-pressure, so memory
 * stays constant whatever the size. Tainted or superseded versions are refused: the service never hands out data a
 * person has objected to. Auditors get the same lines without text. A refusal before the first line is thrown as a
 * DomainError (the HTTP edge answers it); a failure after it ends the target.
 */
export async function exportDataset(
  ctx: RequestContext,
  { datasetId: requested, exportable, budget, metrics }: ExportRequest,
  target: ExportTarget,
): Promise<void> {
  if (!hasRole(ctx.viewer, ...DATASET_EXPORTERS))
    throw new DomainError(ErrorCode.FORBIDDEN, `export requires ${DATASET_EXPORTERS.join(' or ')}`);
  const datasetId = (await exportable(ctx, requested)).id;
  const withText = hasRole(ctx.viewer, Role.ML_ENGINEER);
  const giveBack = budget.take();
  if (!giveBack) throw new BusyError(`${budget.limit} exports are running; retry later`, EXPORT_RETRY_AFTER_SECONDS);
  let failure: Error | undefined;
  let release: ((err?: Error) => void) | undefined;
  let out: Writable | undefined;
  const observe = metrics?.datasetExportTimer();
  try {
    const [client, giveConnectionBack] = await exportConnection(ctx.dataSource, withText);
    release = giveConnectionBack;
    const { exportIdleTimeoutMs, exportMinBytesPerSecond, exportStatementTimeoutMs } = ctx.config;
    await setSessionTimeout(client, exportStatementTimeoutMs);
    out = target.open(`${datasetId}.ndjson`);
    await pipeline(exportStream(client, datasetId, withText), slowClientGuard(out, exportIdleTimeoutMs, exportMinBytesPerSecond), out);
    // Back to the pool's ordinary timeout.
    await resetSessionTimeout(client);
  } catch (err) {
    failure = err as Error;
    // Aborted by the client, cut for reading too slowly, or a database error: the answer ends there.
    if (out && target.sent) out.destroy();
    else throw err;
  } finally {
    // A connection whose COPY did not run to its end cannot serve anyone else: discard it (the pool opens a new one).
    release?.(failure);
    giveBack();
    observe?.({ format: 'ndjson', outcome: failure ? 'failed' : 'ok' });
  }
}
