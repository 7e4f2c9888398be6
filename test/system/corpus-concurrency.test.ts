import { Role } from '../../src/common/auth';
import { runAudited } from '../../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../../src/modules/seed/synthetic';
import { connectionPools } from '../../src/db/data-source';
import { onCitus, ordinaryTraffic, useTestApp } from '../helpers';

/**
 * Whole-corpus evaluations (eligibilityReport, eligible counts, taint, buildVerification, lineage, footprints) are
 * bounded in how many run at once, per role: beyond that they are refused at once with 429 RATE_LIMITED and a retry
 * hint, so that a flood from one role neither queues for the pool nor starves ordinary requests of other users.
 */
const t = useTestApp();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // A corpus large enough that one report takes a while (reused when the suite runs again on the same PostgreSQL).
  const prefix = 'corpus-gate-';
  const [seeded] = await t.sql(`SELECT count(*)::int AS n FROM users WHERE external_id LIKE $1`, [`${prefix}%`]);
  if (!seeded.n)
    await runAudited(t.context(Role.INGEST_SERVICE), 'syntheticSeed', {}, async (tx) => {
      await writeSynthetic(tx.manager, { users: 2000, items: 30000, objections: 2000, seed: 17, prefix, profile: 'clean' });
      return { payload: undefined, targetIds: [] };
    });
}, 300_000);

interface Answer {
  status: number;
  ms: number;
  retryAfter: string | null;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(query: string, role: Role): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tokens[role]}` },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await res.json()) as Answer['body'];
  return { status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), body };
}

/** Ordinary requests of another role, one after another on `lanes` lanes, until stop(). */
const traffic = (lanes = 3) =>
  ordinaryTraffic(async () => {
    const a = await post(`{ users(first: 1) { edges { node { id } } } }`, Role.PRIVACY_OFFICER);
    return { status: a.status, errors: a.body.errors };
  }, lanes);

/**
 * Samples how many requests wait for a connection of the application's pool, as often as this process's event loop
 * allows (every 2 ms at most; the server shares it), until stop().
 */
function poolWaits() {
  // The primary's pool and the replicas' (reports read from a replica when there is one).
  const { primary, replicas } = connectionPools(t.db.dataSource);
  const pools = [primary!, ...replicas];
  let sampled = 0;
  let maxWaiting = 0;
  const timer = setInterval(() => {
    sampled++;
    maxWaiting = Math.max(maxWaiting, ...pools.map((p) => p.waitingCount));
  }, 2);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return { sampled, maxWaiting };
    },
  };
}

const refusedBusy = (a: Answer) => a.body.errors?.some((e) => e.extensions?.code === 'RATE_LIMITED') ?? false;

describe('whole-corpus evaluations are bounded per role', () => {
  it('a flood of eligibilityReport from one role: the excess is refused at once with 429 RATE_LIMITED, other users unaffected', async () => {
    const pool = poolWaits();
    const ordinary = traffic();
    await sleep(200);
    // Three waves of 30 concurrent requests for reports from one role, a third of them with 3 aliases; each wave is sent
    // when the one before has been answered.
    const one = `{ eligibilityReport { evaluated eligible reasons { reason count } } }`;
    const three = `{ a: eligibilityReport { evaluated eligible } b: eligibilityReport(policyKey: "eu-ai-training") { wouldExclude } c: eligibilityReport { reasons { reason count } } }`;
    const flood = (async () => {
      const all: Answer[] = [];
      for (let wave = 0; wave < 3; wave++)
        all.push(...(await Promise.all(Array.from({ length: 30 }, (_, i) => post(i % 3 ? one : three, Role.AUDITOR)))));
      return all;
    })();
    // Meanwhile another role's corpus work has slots of its own.
    await sleep(100);
    const other = await post(`{ eligibilityReport { evaluated } }`, Role.PRIVACY_OFFICER);
    const answers = await flood;
    const seen = await ordinary.stop();
    const queued = pool.stop();

    // Nothing is a server error: what is not answered is refused with the documented 429.
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const busy = answers.filter(refusedBusy);
    expect(busy.length).toBeGreaterThan(0);
    for (const a of busy) {
      expect(a.status).toBe(429);
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      const error = a.body.errors!.find((e) => e.extensions?.code === 'RATE_LIMITED')!;
      expect(error.message).toMatch(/retry/i);
      expect(error.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    }
    // Refusals are immediate, not queued behind the running evaluations.
    const fastest = Math.min(...busy.map((a) => a.ms));
    expect(fastest).toBeLessThan(1000);
    // Every error is the refusal (nothing timed out, nothing internal), and some reports did run.
    const codes = new Set(answers.flatMap((a) => (a.body.errors ?? []).map((e) => e.extensions?.code)));
    expect([...codes]).toEqual(['RATE_LIMITED']);
    expect(answers.some((a) => a.status === 200 && !a.body.errors)).toBe(true);
    expect(other.body.errors).toBeUndefined();

    expect(seen.failures).toEqual([]);
    expect(seen.count).toBeGreaterThan(5);
    if (t.db.mode !== 'embedded') {
      // The embedded database has one connection: there, ordinary requests necessarily wait for the running statement.
      // Elsewhere no request was seen queued for a connection of a pool (sampled: a wait shorter than the samples' gap
      // can pass unseen, a wait behind a report cannot): the reports that ran hold at most the gate's slots, and the
      // rest of the pool stays free for other users.
      expect(queued).toEqual({ sampled: expect.any(Number), maxWaiting: 0 });
      expect(queued.sampled).toBeGreaterThan(20);
      // What is left is sharing 2 cores with the running reports and their parallel workers (on Citus also with the
      // coordinator and two workers): slower, not waiting. The queueing is checked above; this bound is only loose
      // (a slower machine's CI saw p99 1,031 ms here, over the 1,000 ms bound this test had).
      expect(seen.p99).toBeLessThan(onCitus ? 5000 : 3000);
    }

    // Once the flood is over, the slots are back; a request's own evaluations (aliases) share its slot, one after another.
    const after = await post(three, Role.AUDITOR);
    expect(after.status).toBe(200);
    expect(after.body.errors).toBeUndefined();
    const data = after.body.data as { a: { evaluated: number }; b: { wouldExclude: number }; c: { reasons: unknown[] } };
    expect(data.a.evaluated).toBeGreaterThanOrEqual(30000);
    expect(typeof data.b.wouldExclude).toBe('number');
    expect(Array.isArray(data.c.reasons)).toBe(true);
  }, 180_000);
});
