import crypto from 'node:crypto';
import { createContext, type RequestContext } from '../../context';
import { devSubject, Role } from '../../common/tokens';
import { runAudited } from '../audit';
import type { DatasetService } from '../datasets';
import { LOCK_NAMES } from '../../db/locks';
import { lockForTransaction } from '../../db/sql';
import { bulkSession, writeSynthetic } from './synthetic';

export const DEMO_SPEC = { users: 300, items: 3000, objections: 40, seed: 1, prefix: 'demo-' };

/** Loads the small deterministic demo data set when the database holds no users yet. Returns whether it did. */
export async function seedDemoIfEmpty(ctx: RequestContext): Promise<boolean> {
  return runAudited(ctx, 'demoSeed', DEMO_SPEC, async (tx) => {
    await bulkSession(tx.manager); // first: on Citus, before any statement chooses how it runs
    // Serialise concurrent first starts (two replicas on one empty database).
    await lockForTransaction(tx.manager, LOCK_NAMES.DEMO_SEED);
    const [{ n }] = await tx.manager.query(`SELECT count(*)::int AS n FROM users`);
    if (n > 0) throw new AlreadySeeded();
    await writeSynthetic(tx.manager, DEMO_SPEC);
    return { payload: true, targetIds: [] };
  }).catch((err) => {
    if (err instanceof AlreadySeeded) return false;
    throw err;
  });
}

class AlreadySeeded extends Error {}

/** Ids of the demo data (deterministic: u users, c content items, d the demo dataset), as the synthetic writer makes them. */
export const demoId = (kind: 'u' | 'c' | 'd', n: number) => {
  const h = crypto.createHash('md5').update(`${DEMO_SPEC.prefix}${kind}:${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export const DEMO_DATASET_ID = demoId('d', 1);
export const DEMO_DATASET_INPUT = { name: 'demo-assistant-tuning', policyKey: 'eu-ai-training', purpose: 'demo: assistant tone tuning' };

/**
 * The demo dataset (after the demo data): requested by the development ML engineer (so that the IDE's ML_ENGINEER
 * token sees it as its own) with a known id, so that the IDE's examples run as they are. Audited like any request.
 */
export async function seedDemoDataset(system: RequestContext, datasets: Pick<DatasetService, 'request'>): Promise<void> {
  const ctx = createContext(system, { subject: devSubject(Role.ML_ENGINEER), roles: [Role.ML_ENGINEER] });
  await runAudited(ctx, 'datasetRequest', DEMO_DATASET_INPUT, (tx) => datasets.request(tx, DEMO_DATASET_INPUT, DEMO_DATASET_ID));
}
