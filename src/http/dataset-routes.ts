import express from 'express';
import { createContext, type AppDeps } from '../context';
import type { Viewer } from '../common/auth';
import { problemOf } from '../common/error-boundary';
import { bearerViewer, sendRefusal } from '../common/http';
import type { Metrics } from '../common/metrics';
import { ConcurrencyBudget } from '../common/budget';
import { datasetCardPage, exportDataset, viewerOfCardLink } from '../modules/datasets';

/** A refusal (DomainError) answered as a problem document; anything else goes on to the error handler. */
async function answering(res: express.Response, next: express.NextFunction, route: () => Promise<void>): Promise<void> {
  try {
    await route();
  } catch (err) {
    const problem = problemOf(err);
    if (res.headersSent) res.destroy(err as Error);
    else if (problem) sendRefusal(res, problem);
    else next(err);
  }
}

/**
 * The Express adapter of the datasets module's routes (src/modules/datasets/dataset.routes.ts): reads the caller, the
 * id and the signature off the request, and writes the answer's status and headers.
 */
export function datasetRoutes(deps: Omit<AppDeps, 'log'>, secret: Uint8Array, metrics: Metrics): express.Router {
  const { services, config } = deps;
  const router = express.Router();
  const viewerOf = bearerViewer(secret, config);
  const contextOf = (req: express.Request, viewer: Viewer) => createContext({ ...deps, log: req.log }, viewer, String(req.id));
  const budget = new ConcurrencyBudget(config.exportConcurrency);
  router.get('/datasets/:id/export.ndjson', (req, res, next) =>
    answering(res, next, async () => {
      const viewer = await viewerOf(req, res);
      if (!viewer) return;
      const request = {
        datasetId: String(req.params.id),
        exportable: services.datasets.exportable.bind(services.datasets),
        budget,
        metrics,
      };
      await exportDataset(contextOf(req, viewer), request, {
        open: (fileName) => {
          res.status(200).type('application/x-ndjson');
          res.setHeader('content-disposition', `attachment; filename="${fileName}"`);
          return res;
        },
        get sent() {
          return res.headersSent;
        },
      });
    }),
  );
  // The HTML card: with the bearer token, or in a plain browser tab with a signed link from dataset.cardUrl (?sig=…).
  router.get('/datasets/:id/card', (req, res, next) =>
    answering(res, next, async () => {
      const datasetId = String(req.params.id);
      const sig = typeof req.query.sig === 'string' ? req.query.sig : undefined;
      const viewer = sig && !req.headers.authorization ? await viewerOfCardLink(config, datasetId, sig) : await viewerOf(req, res);
      if (!viewer) return;
      const html = await datasetCardPage(contextOf(req, viewer), services.datasets, datasetId);
      // No referrer: the page's address may hold a signed link.
      res
        .type('html')
        .set({
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
          'referrer-policy': 'no-referrer',
          'cache-control': 'private, no-store',
        })
        .send(html);
    }),
  );
  return router;
}
