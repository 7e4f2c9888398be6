import type { RequestContext } from '../../context';
import { hasRole } from '../../common/auth';
import { DomainError, ErrorCode, shown } from '../../common/errors';
import { cardHtml } from './dataset.card';
import type { DatasetService } from './dataset.service';
import { DATASET_READERS } from './dataset.roles';

/**
 * The datasets module's routes beside /graphql, on parsed requests, and all that their Express adapter
 * (src/http/dataset-routes.ts: the token or the card link, the status, the headers) needs of the module. A refusal
 * is thrown as a DomainError and answered by the error boundary.
 *
 * - GET /datasets/{id}/export.ndjson: `exportDataset` (dataset.export.ts).
 * - GET /datasets/{id}/card: `datasetCardPage`.
 */
export { exportDataset } from './dataset.export';
export { viewerOfCardLink } from './card-link';

/** The HTML card of a dataset for the caller (ctx.viewer): 403 for a role that reads no datasets, 404 for one it may not see. */
export async function datasetCardPage(
  ctx: RequestContext,
  datasets: Pick<DatasetService, 'get' | 'card'>,
  datasetId: string,
): Promise<string> {
  if (!hasRole(ctx.viewer, ...DATASET_READERS))
    throw new DomainError(ErrorCode.FORBIDDEN, `dataset cards are for ${DATASET_READERS.join(', ')}`);
  const dataset = await datasets.get(ctx, datasetId).catch((err) => {
    if (err instanceof DomainError) return undefined;
    throw err;
  });
  if (!dataset) throw new DomainError(ErrorCode.NOT_FOUND, `No dataset ${shown(datasetId)}`);
  return cardHtml(await datasets.card(ctx, dataset));
}
