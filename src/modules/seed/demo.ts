import type { RequestContext } from '../../context';
import { runAudited } from '../audit/audited-mutation';
import { bulkSession, writeSynthetic } from './synthetic';
import { lockForTransaction } from '../../common/sql';

export const DEMO_SPEC = { users: 300, items: 3000, objections: 40, seed: 1, prefix: 'demo-' };

/** Loads the small deterministic demo data set when the database holds no users yet. Returns whether it did. */
export async function seedDemoIfEmpty(ctx: RequestContext): Promise<boolean> {
  return runAudited(ctx, 'demoSeed', DEMO_SPEC, async (tx) => {
    await bulkSession(tx.manager); // first: on Citus, before any statement chooses how it runs
    // Serialise concurrent first starts (two replicas on one empty database).
    await lockForTransaction(tx.manager, 'demo-seed');
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
