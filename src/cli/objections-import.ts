import fs from 'node:fs';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from '../context';
import { csvField, csvRecords, type ImportSummary } from '../modules/consent';
import { createProgress } from './progress';

export { CSV_HEADER, type ImportSummary } from '../modules/consent';

/**
 * Streams a CSV of objections into the consent service in chunks, inside one transaction (all or nothing), never
 * holding the whole file in memory (src/modules/consent/consent.import.ts, shared with POST /objections/import).
 * Errors name the file line and column. Rows imported before (same idempotency key, see objectionRowKey) are not
 * written again and are counted as already in force.
 */
export async function importObjectionsCsv(
  ctx: RequestContext,
  file: string,
  options: { reason?: string; progress?: boolean } = {},
): Promise<ImportSummary> {
  const size = fs.statSync(file).size;
  const digest = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), digest);
  const fileDigest = digest.digest('hex');
  const input = fs.createReadStream(file);
  const progress = options.progress === false ? undefined : createProgress('objections import', size, 'bytes');
  try {
    const summary = await ctx.services.consent.importRecords(ctx, csvRecords(input, fileDigest), {
      reason: options.reason,
      auditInput: () => ({ file: file.split('/').pop(), reason: options.reason }),
      field: csvField,
      onChunk: () => progress?.update(input.bytesRead),
    });
    progress?.update(size);
    return summary;
  } finally {
    progress?.stop();
    input.destroy();
  }
}
