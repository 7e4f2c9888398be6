import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Client } from 'pg';
import { to as copyTo, from as copyFrom } from 'pg-copy-streams';
import autocannon from 'autocannon';
import { execute, parse, specifiedRules, validate } from 'graphql';
import { loadConfig } from '../src/config';
import { openDatabase, Database } from '../src/db/data-source';
import { createContext, RequestContext } from '../src/context';
import { createServices } from '../src/services';
import { Role, signToken } from '../src/common/auth';
import { runAudited } from '../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../src/modules/seed/synthetic';
import { EXPORT_SQL } from '../src/modules/datasets/dataset.export';
import {
  attachMemberPartition,
  createMemberPartition,
  keyMemberPartition,
  memberPartitionName,
} from '../src/modules/datasets/dataset.partitions.store';
import { manifestDigest } from '../src/modules/datasets/dataset.store';
import { LineageDirection } from '../src/modules/lineage/lineage.types';
import { encodeCursor } from '../src/common/pagination';
import { ConsentScope } from '../src/common/enums';
import { distributedTables, factSession } from '../src/db/citus';
import { createApp } from '../src/server';
import { buildSchema } from '../src/schema';
import { armorLimits, introspectionAliasRule, MAX_TOKENS } from '../src/common/limits';
import {
  ELIGIBLE_COUNT,
  ELIGIBLE_WHERE,
  FLOOR_COUNT,
  HEAP_FLOOR_COUNT,
  LINEAGE_WALK,
  MEMBERSHIP_CTAS,
  MEMBERSHIP_INSERT,
} from './baseline-sql';

/**
 * `npm run bench -- [--scale s|m|l] [--only KEY,KEY|core] [--repeat N] [--out FILE] [--embedded] [--keep] [--citus COORDINATOR_URL]`
 *
 * `--only core`: the metrics whose growth with the corpus matters (CORE below). Scale l repeats once by default.
 * `node dist/bench/growth.js FILE...` prints the growth table of result files of several scales.
 *
 * With `--citus`, the cluster's database (laid out by deploy/citus/setup.sh, seeded here when empty) is measured against
 * the single PostgreSQL seeded the same way in the same run: eligibleCount, datasetRequest and export, each with the
 * single PostgreSQL as its baseline (bench/results-citus.json).
 *
 * Every metric is a ratio against a baseline measured in the same run, interleaved (ours, baseline, ours, ...) and
 * repeated; medians are reported. `ratio` is always our cost over the baseline's, so lower is better (for a
 * throughput: the baseline's rate over ours). Results go to bench/results.json (or results-embedded.json).
 */
interface Metric {
  value: number;
  baseline: number;
  ratio: number;
  target: number | null;
  unit: string;
  note?: string;
}

/** Mixed items plus clean ones (the export's dataset): 200k items at s, 2M at m, 10M at l (1.05M people). */
const SCALES = {
  s: { users: 10_000, items: 100_000, objections: 5_000, clean: 100_000 },
  m: { users: 100_000, items: 1_000_000, objections: 50_000, clean: 1_000_000 },
  l: { users: 1_000_000, items: 9_000_000, objections: 500_000, clean: 1_000_000 },
};
/** The core metrics: whole-corpus work, and the per-request work that must not grow with the corpus. */
const CORE = ['eligibleCount', 'datasetRequest', 'export', 'eligibilityBatch', 'verdictLatency', 'eligibleContentPage'];

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const flag = (name: string) => args.includes(`--${name}`);
const scaleKey = (opt('scale') ?? 's') as keyof typeof SCALES;
if (!SCALES[scaleKey]) throw new Error('--scale must be s, m or l');
const scale = SCALES[scaleKey];
const only = opt('only')
  ?.split(',')
  .flatMap((k) => (k === 'core' ? CORE : [k]));
const repeat = Number(opt('repeat') ?? (scaleKey === 'l' ? 1 : 3));
const embedded = flag('embedded');
const citusUrl = opt('citus');
const want = (key: string) => !only || only.includes(key);
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
/** The corpus measured (growth.ts compares scales by it). */
let corpus: { users: number; items: number } | undefined;
let seedSeconds: number | undefined;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
/** Runs the functions in turn `n` times, the order rotating each round; returns each one's times in ms. */
async function rotate(fns: (() => Promise<unknown>)[], n = repeat): Promise<number[][]> {
  const times = fns.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < fns.length; j++) {
      const k = (i + j) % fns.length;
      times[k].push(await time(fns[k]));
    }
  }
  return times;
}
/** Runs ours and the baseline alternately `repeat` times; returns the medians in ms. */
async function interleave(
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  n = repeat,
): Promise<{ ours: number; baseline: number }> {
  const [a, b] = await rotate([ours, baseline], n);
  return { ours: median(a), baseline: median(b) };
}
/** The q-quantile of `xs` (nearest rank). */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))];
};
const costMetric = (m: { ours: number; baseline: number }, target: number | null, unit = 'ms', note?: string): Metric => ({
  value: round(m.ours, 1),
  baseline: round(m.baseline, 1),
  ratio: round(m.ours / m.baseline),
  target,
  unit,
  note,
});

/** Rolls back whatever `fn` wrote: both sides of a write benchmark leave the database as they found it. */
class Rollback extends Error {}
async function inRolledBackTx(db: Database, fn: (ctx: RequestContext) => Promise<unknown>, ctx: RequestContext) {
  await db.dataSource
    .transaction(async (manager) => {
      const outer = ctx.manager;
      ctx.manager = manager;
      try {
        await fn(ctx);
      } finally {
        ctx.manager = outer;
      }
      throw new Rollback();
    })
    .catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
}

async function main() {
  const started = Date.now();
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    AUTH_SECRET: process.env.AUTH_SECRET ?? crypto.randomBytes(32).toString('hex'),
  });
  let dropDb: (() => Promise<void>) | undefined;
  if (!embedded && !config.databaseUrl) {
    const name = `bench_${Date.now()}`;
    const admin = new Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    config.databaseUrl = `postgresql://postgres@127.0.0.1:5432/${name}`;
    dropDb = async () => {
      const c = new Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
    log(`fresh database ${name}`);
  }
  if (embedded) {
    config.databaseUrl = undefined;
    config.dataDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'aidg-bench-'));
    log(`embedded database in ${config.dataDir}`);
  }
  const db = await openDatabase(config, { poolSize: 12 });
  const services = createServices();
  const ctx = (role: Role) =>
    createContext(
      { dataSource: db.dataSource, services, config, log: pino({ level: 'silent' }) },
      { subject: `bench-${role.toLowerCase()}`, roles: [role] },
    );
  const metrics: Record<string, Metric> = {};

  try {
    await seedIfEmpty(db, ctx);
    [corpus] = await db.dataSource.query(
      `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM content_items)::int AS items`,
    );
    if (citusUrl) {
      await citusComparison(db, config, ctx, metrics);
      return finish(metrics, started, 'citus');
    }

    if (want('eligibleCount')) {
      log('eligibleCount');
      const c = ctx(Role.AUDITOR);
      let ours = 0;
      let base = 0;
      // Ours, the hand-written statement and the floor in turn: each timing of ours serves both ratios.
      const [a, b, f, h] = (
        await rotate([
          async () => (ours = await services.eligibility.countEligible(c, 'eu-ai-training')),
          async () => (base = (await db.dataSource.query(ELIGIBLE_COUNT))[0].n),
          async () => db.dataSource.query(FLOOR_COUNT),
          async () => db.dataSource.query(HEAP_FLOOR_COUNT),
        ])
      ).map(median);
      if (ours !== base) throw new Error(`eligibleCount disagrees: ours ${ours}, hand-written ${base}`);
      metrics.eligibleCount = costMetric(
        { ours: a, baseline: b },
        1.2,
        'ms',
        `${ours} eligible items; baseline: the fastest hand-written statement`,
      );
      metrics.eligibleCountVsFloor = costMetric(
        { ours: a, baseline: f },
        3,
        'ms',
        'the same count vs a bare scan of content joined to users (the floor)',
      );
      metrics.eligibleCountVsRowFloor = costMetric(
        { ours: a, baseline: h },
        null,
        'ms',
        "the same count vs the same scan reading every row (the floor's plan reads an index only)",
      );
    }

    if (want('datasetRequest')) {
      log('datasetRequest');
      const c = ctx(Role.ML_ENGINEER);
      let members = 0;
      let built = '';
      const request = async () => {
        const r = await runAudited(c, 'datasetRequest', {}, (tx) =>
          services.datasets.request(tx, { name: 'bench-full', policyKey: 'eu-ai-training' } as any),
        );
        members = r.dataset!.memberCount;
        built = r.dataset!.id;
      };
      const [a, b, f, t] = (
        await rotate([
          request,
          () =>
            inRolledBackTx(
              db,
              async (tx) => {
                await tx.manager.query(`CREATE TABLE bench_membership (LIKE dataset_members)`);
                await tx.manager.query(MEMBERSHIP_INSERT('bench_membership'));
              },
              c,
            ),
          async () => db.dataSource.query(FLOOR_COUNT),
          () => inRolledBackTx(db, (tx) => tx.manager.query(MEMBERSHIP_CTAS('bench_membership')), c),
        ])
      ).map(median);
      // Same members as the hand-written statement (set digest), or the comparison means nothing.
      const [ours] = await db.dataSource.query(
        `SELECT md5(string_agg(item_id::text, ',' ORDER BY item_id)) AS d FROM dataset_members WHERE dataset_id = $1`,
        [built],
      );
      const [theirs] = await db.dataSource.query(
        `SELECT md5(string_agg(c.id::text, ',' ORDER BY c.id)) AS d FROM content_items c JOIN users u ON u.id = c.author_id WHERE ${ELIGIBLE_WHERE}`,
      );
      if (ours.d !== theirs.d) throw new Error("datasetRequest: the members differ from the hand-written statement's");
      metrics.datasetRequest = costMetric(
        { ours: a, baseline: b },
        1.5,
        'ms',
        `${members} members; baseline: the fastest hand-written INSERT … SELECT into an unindexed table`,
      );
      metrics.datasetRequestVsTable = costMetric(
        { ours: a, baseline: t },
        null,
        'ms',
        'the build vs the same membership by hand as CREATE TABLE … AS (parallel workers; no exclusions, keys or digest)',
      );
      metrics.datasetRequestVsFloor = costMetric(
        { ours: a, baseline: f },
        4,
        'ms',
        'the build (membership, exclusions, digest, keys) vs a bare scan of content joined to users',
      );
    }

    // The embedded database has one connection: every objection would wait for a whole build (150 of them, minutes), and
    // there is no concurrency to measure.
    if (want('objectionDuringBuilds') && !embedded) {
      // Builds take no lock against fact writers: an objection's latency while 4 builds run, against none running.
      log('objectionDuringBuilds');
      const officer = ctx(Role.PRIVACY_OFFICER);
      const people: string[] = (await db.dataSource.query(`SELECT id FROM users ORDER BY md5(id::text || 'o') LIMIT 400`)).map(
        (r: any) => r.id,
      );
      let next = 0;
      const objections = async (n: number) => {
        const lat: number[] = [];
        for (let i = 0; i < n; i++) {
          const userId = people[next++ % people.length];
          lat.push(
            await time(() =>
              runAudited(officer, 'objectionRecord', {}, (tx) =>
                services.consent.recordObjection(tx, { userId, scope: ConsentScope.AI_INTERACTIONS, channel: 'PRIVACY_STAFF' } as any),
              ),
            ),
          );
        }
        return lat.sort((a, b) => a - b);
      };
      const p99 = (xs: number[]) => xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)];
      const quiet = await objections(150);
      let building = true;
      const builder = async () => {
        while (building) {
          await inRolledBackTx(
            db,
            (c) => services.datasets.request(c, { name: 'bench-concurrent', policyKey: 'eu-ai-training' } as any),
            ctx(Role.ML_ENGINEER),
          );
        }
      };
      const builders = [builder(), builder(), builder(), builder()];
      await new Promise((r) => setTimeout(r, 500));
      const busy = await objections(150);
      building = false;
      await Promise.all(builders);
      metrics.objectionDuringBuilds = {
        value: round(p99(busy), 1),
        baseline: round(p99(quiet), 1),
        ratio: round(p99(busy) / p99(quiet)),
        target: 2,
        unit: `ms p99 of objectionRecord while 4 dataset builds run vs none (p50 ${round(busy[75], 1)} vs ${round(quiet[75], 1)} ms)`,
      };
    }

    // Partitioning: one version built, scanned and dropped in the partitioned layout (the service's own partition
    // steps) vs in one unpartitioned table with the same keys holding the same versions. Both load the same members
    // (a copy of the largest version under a new id), so the difference is the layout.
    if (want('partitioning')) {
      log('partitioning');
      const c = ctx(Role.ML_ENGINEER);
      const versions = async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM datasets`))[0].n as number;
      while ((await versions()) < 4) {
        await runAudited(c, 'datasetRequest', {}, (tx) =>
          services.datasets.request(tx, { name: 'bench-partitioning', policyKey: 'eu-ai-training' } as any),
        );
      }
      const [source] = await db.dataSource.query(`SELECT id, member_count AS n FROM datasets ORDER BY member_count DESC, id LIMIT 1`);
      const total = (await db.dataSource.query(`SELECT count(*)::int AS n FROM dataset_members`))[0].n as number;
      await db.dataSource.query(`DROP TABLE IF EXISTS bench_members_flat`);
      await db.dataSource.query(`CREATE TABLE bench_members_flat (LIKE dataset_members)`);
      await db.dataSource.query(`INSERT INTO bench_members_flat SELECT * FROM dataset_members`);
      await db.dataSource.query(`ALTER TABLE bench_members_flat ADD PRIMARY KEY (dataset_id, item_id, author_id)`);
      await db.dataSource.query(`CREATE INDEX ON bench_members_flat (author_id)`);
      await db.dataSource.query(embedded ? `ANALYZE bench_members_flat` : `VACUUM ANALYZE bench_members_flat`);
      const copyOfSource = (id: string) =>
        `SELECT '${id}'::uuid, item_id, author_id, content_hash FROM dataset_members WHERE dataset_id = '${source.id}'`;
      const phases = { build: [[], []] as number[][], scan: [[], []] as number[][], drop: [[], []] as number[][] };
      const digests: string[][] = [[], []];
      for (let i = 0; i < repeat; i++) {
        const ours = crypto.randomUUID();
        phases.build[0].push(
          await time(() =>
            db.dataSource.transaction(async (m) => {
              const part = await createMemberPartition(m, ours);
              await m.query(`INSERT INTO ${part} ${copyOfSource(ours)}`);
              await keyMemberPartition(m, part, ours);
              await attachMemberPartition(m, part, ours);
            }),
          ),
        );
        phases.scan[0].push(
          await time(async () =>
            digests[0].push(
              (await db.dataSource.transaction((m) => manifestDigest(m, 'dataset_members', `dataset_id = '${ours}'`))).digest,
            ),
          ),
        );
        phases.drop[0].push(await time(() => db.dataSource.query(`DROP TABLE ${memberPartitionName(ours)}`)));
        const flat = crypto.randomUUID();
        phases.build[1].push(await time(() => db.dataSource.query(`INSERT INTO bench_members_flat ${copyOfSource(flat)}`)));
        phases.scan[1].push(
          await time(async () =>
            digests[1].push(
              (await db.dataSource.transaction((m) => manifestDigest(m, 'bench_members_flat', `dataset_id = '${flat}'`))).digest,
            ),
          ),
        );
        phases.drop[1].push(await time(() => db.dataSource.query(`DELETE FROM bench_members_flat WHERE dataset_id = '${flat}'`)));
      }
      await db.dataSource.query(`DROP TABLE bench_members_flat`);
      // Same members in both layouts: the item ids and hashes (hence the digests) agree.
      if (digests[0].some((d, i) => d !== digests[1][i])) throw new Error('partitioning: the two layouts disagree on the members');
      const note = (what: string) =>
        `${what} one version of ${source.n} members, with ${total} members in the table; baseline: one unpartitioned table, same keys`;
      for (const [key, [a, b], what] of [
        ['partitionBuild', phases.build, 'load and key'],
        ['partitionScan', phases.scan, 'digest (full ordered read) of'],
        ['partitionDrop', phases.drop, 'drop (DROP TABLE vs DELETE, vacuum left out) of'],
      ] as const) {
        metrics[key] = costMetric({ ours: median(a), baseline: median(b) }, 1, 'ms', note(what));
      }
    }

    if (want('eligibilityBatch')) {
      log('eligibilityBatch');
      const c = ctx(Role.AUDITOR);
      const ids: string[] = (await db.dataSource.query(`SELECT id FROM content_items ORDER BY md5(id::text) LIMIT 1000`)).map(
        (r: any) => r.id,
      );
      const logger = db.dataSource.logger as any;
      const original = logger.logQuery;
      let statements = 0;
      logger.logQuery = (...a: unknown[]) => {
        statements++;
        return original.apply(logger, a);
      };
      const count = async (n: number) => {
        statements = 0;
        await services.eligibility.verdicts(c, ids.slice(0, n), 'eu-ai-training');
        return statements;
      };
      const one = await count(1);
      const thousand = await count(1000);
      logger.logQuery = original;
      metrics.eligibilityBatch = {
        value: thousand,
        baseline: one,
        ratio: round(thousand / one),
        target: 1,
        unit: 'SQL statements (1,000 ids vs 1 id)',
      };
      const lat = await interleave(
        () => services.eligibility.verdicts(c, ids, 'eu-ai-training'),
        () => services.eligibility.verdicts(c, ids.slice(0, 1), 'eu-ai-training'),
        Math.max(repeat, 5),
      );
      metrics.eligibilityBatchLatency = costMetric(lat, null, 'ms', 'eligibility for 1,000 ids vs for 1 id');
    }

    // Per-request work, which must not grow with the corpus: fresh random ids (or a random page) each repetition, out
    // of a sample of the whole table, so the cache holds no more of the corpus than a real caller's would.
    let sample: string[] | undefined;
    const sampleIds = async () => {
      if (!sample) {
        const [{ n }] = await db.dataSource.query(
          `SELECT greatest(reltuples, 1)::float8 AS n FROM pg_class WHERE oid = 'content_items'::regclass`,
        );
        sample = (
          await db.dataSource.query(`SELECT id FROM content_items TABLESAMPLE SYSTEM (${Math.min(100, (100 * 40000) / n)}) REPEATABLE (7)`)
        ).map((r: any) => r.id);
      }
      return sample!;
    };
    const pick = (ids: string[], k: number) => Array.from({ length: k }, () => ids[Math.floor(Math.random() * ids.length)]);
    const REQUESTS = 200;
    if (want('verdictLatency')) {
      log('verdictLatency');
      const c = ctx(Role.AUDITOR);
      const ids = await sampleIds();
      for (let i = 0; i < 10; i++) await services.eligibility.verdicts(c, pick(ids, 100), 'eu-ai-training');
      const lat: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const batch = pick(ids, 100);
        lat.push(await time(() => services.eligibility.verdicts(c, batch, 'eu-ai-training')));
      }
      const [p50, p99] = [quantile(lat, 0.5), quantile(lat, 0.99)];
      metrics.verdictLatency = {
        value: round(p50, 2),
        baseline: 10,
        ratio: round(p50 / 10),
        target: 1,
        unit: `ms p50 of a verdict for 100 random ids (service path, ${REQUESTS} requests) vs the 10 ms budget`,
        note: `p99 ${round(p99, 2)} ms`,
      };
      metrics.verdictLatencyP99 = {
        value: round(p99, 2),
        baseline: round(p50, 2),
        ratio: round(p99 / p50),
        target: null,
        unit: 'ms p99 of the same requests (baseline: their p50)',
      };
    }

    if (want('eligibleContentPage')) {
      // A page of eligibleContent (first: 100) after a random cursor, vs the hand-written page over the same schema.
      log('eligibleContentPage');
      const c = ctx(Role.ML_ENGINEER);
      const ids = await sampleIds();
      const page = (after: string) =>
        services.eligibility.eligibleContent(c, 'eu-ai-training', null, undefined, 100, encodeCursor([after]));
      const byHand = (after: string) =>
        db.dataSource.query(
          `SELECT c.* FROM content_items c JOIN users u ON u.id = c.author_id WHERE ${ELIGIBLE_WHERE} AND c.id > $1 ORDER BY c.id LIMIT 101`,
          [after],
        );
      const probe = pick(ids, 1)[0];
      const [ours, theirs] = [(await page(probe)).edges.map((e) => e.node.id), (await byHand(probe)).slice(0, 100).map((r: any) => r.id)];
      if (ours.join() !== theirs.join()) throw new Error("eligibleContentPage: the page differs from the hand-written statement's");
      const [a, b] = [[] as number[], [] as number[]];
      for (let i = 0; i < REQUESTS; i++) {
        const after = pick(ids, 1)[0];
        const [x, y] = await rotate([() => page(after), () => byHand(after)], 1).then((t) => t.map((v) => v[0]));
        a.push(x);
        b.push(y);
      }
      metrics.eligibleContentPage = costMetric(
        { ours: quantile(a, 0.5), baseline: quantile(b, 0.5) },
        3,
        'ms',
        `p50 of a page of eligibleContent (first: 100) after a random cursor, ${REQUESTS} requests (p99 ${round(quantile(a, 0.99), 1)} ms); baseline: the hand-written page`,
      );
      metrics.eligibleContentPage.value = round(quantile(a, 0.5), 2);
      metrics.eligibleContentPage.baseline = round(quantile(b, 0.5), 2);
    }

    // PGlite's socket server does not carry COPY FROM STDIN, so this baseline only exists on a PostgreSQL server.
    if (want('objectionsImport') && !embedded) {
      log('objectionsImport');
      const c = ctx(Role.PRIVACY_OFFICER);
      const users: { id: string; external_id: string }[] = await db.dataSource.query(
        `SELECT id, external_id FROM users WHERE external_id LIKE 'b-%' ORDER BY id LIMIT 20000`,
      );
      const scopes = Object.values(ConsentScope);
      const rows = Array.from({ length: 100_000 }, (_, i) => ({
        externalUserId: users[i % users.length].external_id,
        userId: users[i % users.length].id,
        scope: scopes[i % 3],
        effectiveAt: new Date(Date.UTC(2025, 0, 1) + i * 1000),
      }));
      const csv = rows
        .map((r) => `${r.userId}\tOBJECTION\t${r.scope}\t${r.effectiveAt.toISOString()}\tBULK_IMPORT\tbench\tbench import\n`)
        .join('');
      const m = await interleave(
        () =>
          inRolledBackTx(
            db,
            // A fact writer's transaction opens a fact session (as runAudited does for the GraphQL mutation).
            async (tx) => {
              await factSession(tx.manager);
              await services.consent.importObjections(tx, rows.map(({ userId: _u, ...r }) => r) as any, 'bench import');
            },
            c,
          ),
        () =>
          inRolledBackTx(
            db,
            async (tx) => {
              const client = (tx.manager.queryRunner as any).databaseConnection;
              const stream = client.query(
                copyFrom(`COPY consent_events (user_id, type, scope, effective_at, channel, actor, reason) FROM STDIN`),
              );
              await pipeline(async function* () {
                yield csv;
              }, stream);
            },
            c,
          ),
      );
      metrics.objectionsImport = costMetric(m, 3, 'ms', '100,000 rows, service (validation, user lookup, set-based insert) vs COPY');
    }

    if (want('lineage')) {
      log('lineage');
      const root = await buildLineageGraph(db);
      const c = ctx(Role.LINEAGE_READER);
      let nodes = 0;
      let baseNodes = 0;
      const m = await interleave(
        async () => (nodes = (await services.lineage.lineage(c, root, LineageDirection.DOWNSTREAM, 50)).nodes.length),
        async () => (baseNodes = (await db.dataSource.query(LINEAGE_WALK, [root, 50])).length),
        Math.max(repeat, 5),
      );
      if (nodes !== baseNodes) throw new Error(`lineage disagrees: ours ${nodes}, hand-written ${baseNodes}`);
      metrics.lineage = costMetric(m, 1.5, 'ms', `${nodes} nodes at depth 50`);
    }

    if (!embedded && (want('export') || want('httpEligibility'))) {
      const server = await startServer(config);
      try {
        const secret = new TextEncoder().encode(process.env.AUTH_SECRET ?? (config.authSecret as string));
        if (want('export')) {
          log('export');
          const ml = await signToken(secret, 'bench-ml_engineer', [Role.ML_ENGINEER]);
          const c = ctx(Role.ML_ENGINEER);
          const ds = await runAudited(c, 'datasetRequest', {}, (tx) =>
            services.datasets.request(tx, { name: 'bench-export', policyKey: 'eu-ai-training', filters: { languages: ['zzc'] } } as any),
          );
          const id = ds.dataset!.id;
          let bytes = 0;
          const m = await interleave(
            async () => {
              const res = await fetch(`http://127.0.0.1:${server.port}/datasets/${id}/export.ndjson`, {
                headers: { authorization: `Bearer ${ml}` },
              });
              if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
              bytes = 0;
              for await (const chunk of res.body as any) bytes += chunk.length;
            },
            async () => {
              const client = new Client({ connectionString: config.databaseUrl });
              await client.connect();
              try {
                const sql = `COPY (${EXPORT_SQL.replace('$1', `'${id}'`)}) TO STDOUT`;
                // The same rows and the same JSON, rendered by the same SELECT; COPY only skips the cursor and HTTP.
                await pipeline(client.query(copyTo(sql)), new Writable({ write: (_c, _e, done) => done() }));
              } finally {
                await client.end();
              }
            },
          );
          metrics.export = costMetric(
            m,
            2,
            'ms',
            `${ds.dataset!.memberCount} members, ${(bytes / 1e6).toFixed(0)} MB of NDJSON over HTTP vs COPY (SELECT …) TO STDOUT`,
          );
          const peak = peakRssMb(server.child.pid!);
          metrics.exportPeakRss = {
            value: peak,
            baseline: 300,
            ratio: round(peak / 300),
            target: 1,
            unit: 'MB peak resident (VmHWM) of the server vs the 300 MB budget',
          };
        }
        if (want('httpEligibility')) {
          log('httpEligibility');
          const auditor = await signToken(secret, 'bench-auditor', [Role.AUDITOR]);
          const baseline = await startBaseline(config);
          try {
            const ids: string[] = (await db.dataSource.query(`SELECT id FROM content_items ORDER BY md5(id::text || 'h') LIMIT 100`)).map(
              (r: any) => r.id,
            );
            const query = 'query($ids: [ID!]!) { eligibility(itemIds: $ids) { itemId eligible reasons } }';
            const body = JSON.stringify({ query, variables: { ids } });
            const hit = (port: number, headers: Record<string, string>, duration: number) =>
              autocannon({
                url: `http://127.0.0.1:${port}/graphql`,
                method: 'POST',
                body,
                headers: { 'content-type': 'application/json', ...headers },
                connections: 10,
                duration,
              });
            const ours = { port: server.port, headers: { authorization: `Bearer ${auditor}` } };
            const base = { port: baseline.port, headers: {} };
            // Same answer from both.
            const a = await (
              await fetch(`http://127.0.0.1:${ours.port}/graphql`, {
                method: 'POST',
                body,
                headers: { 'content-type': 'application/json', ...ours.headers },
              })
            ).json();
            const b = await (
              await fetch(`http://127.0.0.1:${base.port}/graphql`, {
                method: 'POST',
                body,
                headers: { 'content-type': 'application/json' },
              })
            ).json();
            if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('httpEligibility: the baseline answers differently');
            await hit(ours.port, ours.headers, 3);
            await hit(base.port, base.headers, 3);
            const rps: number[][] = [[], []];
            const p99: number[][] = [[], []];
            for (let i = 0; i < repeat; i++) {
              for (const [k, s] of (i % 2
                ? [
                    [1, base],
                    [0, ours],
                  ]
                : [
                    [0, ours],
                    [1, base],
                  ]) as [number, typeof ours][]) {
                const r = await hit(s.port, s.headers, 10);
                if (r.non2xx || r.errors) throw new Error(`httpEligibility: ${r.non2xx} non-2xx, ${r.errors} errors`);
                rps[k].push(r.requests.average);
                p99[k].push(r.latency.p99);
              }
            }
            const [oursRps, baseRps] = [median(rps[0]), median(rps[1])];
            const [oursP99, baseP99] = [median(p99[0]), median(p99[1])];
            const profile = await httpProfile(db, config, body, {
              ours: `http://127.0.0.1:${ours.port}/graphql`,
              base: `http://127.0.0.1:${base.port}/graphql`,
              token: auditor,
            });
            metrics.httpEligibility = {
              value: round(oursRps, 0),
              baseline: round(baseRps, 0),
              ratio: round(baseRps / oursRps),
              target: 2,
              unit: 'requests/s, 10 connections for 10 s (autocannon), both on pools of the same size running the same SQL (ratio: baseline rate over ours)',
              note: profile,
            };
            metrics.httpEligibilityP99 = {
              value: oursP99,
              baseline: baseP99,
              ratio: round(oursP99 / baseP99),
              target: 2,
              unit: 'ms p99 latency',
            };
          } finally {
            baseline.child.kill();
          }
        }
      } finally {
        server.child.kill();
      }
    }
  } finally {
    await db.close();
    if (dropDb && !flag('keep')) await dropDb();
  }

  finish(metrics, started, embedded ? 'embedded' : 'postgres');
}

/**
 * `--citus`: the same operations on the cluster (ours) and on the single PostgreSQL (the baseline), interleaved, on the
 * same synthetic data. Two workers on a 2-core machine cannot show a speed-up; what this shows is what the distributed
 * plan adds, and where the members end up (the workers).
 */
async function citusComparison(
  single: Database,
  config: ReturnType<typeof loadConfig>,
  ctx: (role: Role) => RequestContext,
  metrics: Record<string, Metric>,
) {
  const cluster = await openDatabase({ ...config, databaseUrl: citusUrl }, { poolSize: 12 });
  const services = createServices();
  const cctx = (role: Role) =>
    createContext(
      { dataSource: cluster.dataSource, services, config, log: pino({ level: 'silent' }) },
      { subject: `bench-${role.toLowerCase()}`, roles: [role] },
    );
  try {
    if (!(await distributedTables(cluster.dataSource.manager)).has('content_items')) {
      throw new Error('--citus: the database is not laid out for Citus (run deploy/citus/setup.sh on it first)');
    }
    await seedIfEmpty(cluster, cctx);
    const both = <T>(work: (c: (role: Role) => RequestContext) => Promise<T>) => [() => work(cctx), () => work(ctx)] as const;

    if (want('eligibleCount')) {
      log('citus eligibleCount');
      const counts: number[] = [0, 0];
      const [onCluster, onSingle] = both((c) => services.eligibility.countEligible(c(Role.AUDITOR), 'eu-ai-training'));
      const m = await interleave(
        async () => (counts[0] = await onCluster()),
        async () => (counts[1] = await onSingle()),
      );
      if (counts[0] !== counts[1]) throw new Error(`citus eligibleCount: ${counts[0]} on the cluster, ${counts[1]} on one PostgreSQL`);
      metrics.citusEligibleCount = costMetric(m, 1.5, 'ms', `${counts[0]} eligible items; baseline: the same count on one PostgreSQL`);
    }

    if (want('datasetRequest')) {
      log('citus datasetRequest');
      const built: { id: string; members: number }[] = [
        { id: '', members: 0 },
        { id: '', members: 0 },
      ];
      const request = (c: (role: Role) => RequestContext, k: number) => async () => {
        const r = await runAudited(c(Role.ML_ENGINEER), 'datasetRequest', {}, (tx) =>
          services.datasets.request(tx, { name: 'bench-citus', policyKey: 'eu-ai-training' } as any),
        );
        built[k] = { id: r.dataset!.id, members: r.dataset!.memberCount };
      };
      const m = await interleave(request(cctx, 0), request(ctx, 1));
      if (built[0].members !== built[1].members)
        throw new Error(`citus datasetRequest: ${built[0].members} members on the cluster, ${built[1].members} on one PostgreSQL`);
      // Where the members are: rows per node of the version's partition (none on the coordinator).
      const part = memberPartitionName(built[0].id);
      const perNode: { node: string; n: string }[] = await cluster.dataSource.query(
        `SELECT s.nodename || ':' || s.nodeport AS node, sum(r.result::bigint)::text AS n
         FROM run_command_on_shards($1, 'SELECT count(*) FROM %s') r JOIN citus_shards s ON s.shardid = r.shardid
         GROUP BY 1 ORDER BY 1`,
        [part],
      );
      metrics.citusDatasetRequest = costMetric(
        m,
        1.5,
        'ms',
        `${built[0].members} members, on ${perNode.map((x) => `${x.node} ${x.n}`).join(', ')}; baseline: the same build on one PostgreSQL`,
      );
    }

    if (want('export')) {
      log('citus export');
      const servers = [await startServer({ ...config, databaseUrl: citusUrl }), await startServer(config)];
      try {
        const secret = new TextEncoder().encode(process.env.AUTH_SECRET ?? (config.authSecret as string));
        const ml = await signToken(secret, 'bench-ml_engineer', [Role.ML_ENGINEER]);
        const ids: string[] = [];
        for (const c of [cctx, ctx]) {
          const ds = await runAudited(c(Role.ML_ENGINEER), 'datasetRequest', {}, (tx) =>
            services.datasets.request(tx, { name: 'bench-export', policyKey: 'eu-ai-training', filters: { languages: ['zzc'] } } as any),
          );
          ids.push(ds.dataset!.id);
        }
        const bytes = [0, 0];
        const download = (k: number) => async () => {
          const res = await fetch(`http://127.0.0.1:${servers[k].port}/datasets/${ids[k]}/export.ndjson`, {
            headers: { authorization: `Bearer ${ml}` },
          });
          if (res.status !== 200) throw new Error(`citus export: ${res.status} ${await res.text()}`);
          bytes[k] = 0;
          for await (const chunk of res.body as any) bytes[k] += chunk.length;
        };
        const m = await interleave(download(0), download(1));
        metrics.citusExport = costMetric(
          m,
          1.5,
          'ms',
          `${(bytes[0] / 1e6).toFixed(0)} MB of NDJSON over HTTP (${(bytes[1] / 1e6).toFixed(0)} MB from one PostgreSQL); baseline: the same export from one PostgreSQL`,
        );
      } finally {
        for (const s of servers) s.child.kill();
      }
    }
  } finally {
    await cluster.close();
  }
}

/**
 * Where the time of one eligibility request over GraphQL goes, at concurrency 1 (medians of 200 sequential requests):
 * HTTP to our server and to the raw handler; in-process, Apollo's whole pipeline (executeOperation: the cached parse
 * and validation, plugins, execution, response formatting), graphql-js's parse, validate and execute on their own, the
 * service call alone and the JSON serialisation. Apollo's own pipeline and plugins are executeOperation minus execute;
 * Express, auth, body parsing and logging are the HTTP time minus executeOperation and the serialisation.
 */
async function httpProfile(
  db: Database,
  config: ReturnType<typeof loadConfig>,
  body: string,
  at: { ours: string; base: string; token: string },
): Promise<string> {
  const n = 200;
  const { query, variables } = JSON.parse(body);
  const app = await createApp(config, db.dataSource, pino({ level: 'silent' }));
  app.stopCheckpoints();
  try {
    const viewer = { subject: 'bench-auditor', roles: [Role.AUDITOR] };
    const context = () =>
      createContext({ dataSource: db.dataSource, services: app.services, config, log: pino({ level: 'silent' }) }, viewer);
    const schema = buildSchema();
    const armor = armorLimits();
    const rules = [...specifiedRules, ...armor.validationRules, introspectionAliasRule];
    const document = parse(query, { maxTokens: MAX_TOKENS });
    let result: unknown;
    const post = (url: string, auth: boolean) => async () => {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${at.token}` } : {}) },
      });
      await res.arrayBuffer();
    };
    const phases: Record<string, () => Promise<unknown>> = {
      http: post(at.ours, true),
      raw: post(at.base, false),
      apollo: async () => {
        const r = await app.apollo.executeOperation({ query, variables }, { contextValue: context() });
        if (r.body.kind !== 'single' || r.body.singleResult.errors) throw new Error(`httpEligibility profile: ${JSON.stringify(r.body)}`);
      },
      parse: async () => parse(query, { maxTokens: MAX_TOKENS }),
      validate: async () => {
        if (validate(schema, document, rules).length) throw new Error('httpEligibility profile: invalid');
      },
      execute: async () => (result = await execute({ schema, document, variableValues: variables, contextValue: context() })),
      service: async () => app.services.eligibility.verdicts(context(), variables.ids, 'eu-ai-training'),
      serialise: async () => JSON.stringify(result),
    };
    const ms: Record<string, number> = {};
    const names = Object.keys(phases);
    for (const k of names) await phases[k]();
    const times = await rotate(
      names.map((k) => phases[k]),
      n,
    );
    names.forEach((k, i) => (ms[k] = median(times[i])));
    // Differences of medians: a negative one means that part is within the noise.
    const f = (x: number) => `${round(x, 2)} ms${x < 0 ? ' (within noise)' : ''}`;
    // Apollo keeps parsed and validated documents by query text (its document store): a repeated query pays neither.
    return (
      `one request at a time (medians of ${n}): ours ${f(ms.http)} over HTTP, raw handler ${f(ms.raw)}. Ours in-process: Apollo executeOperation ` +
      `${f(ms.apollo)} = execute ${f(ms.execute)} (the service call alone ${f(ms.service)}, GraphQL field resolution ${f(ms.execute - ms.service)}) ` +
      `+ Apollo pipeline and plugins ${f(ms.apollo - ms.execute)}; serialisation ${f(ms.serialise)}; Express, auth, body parsing and logging ` +
      `${f(ms.http - ms.apollo - ms.serialise)}. Paid once per query text (Apollo's document store): parse ${f(ms.parse)}, validate with the server's rules ${f(ms.validate)}`
    );
  } finally {
    await app.apollo.stop().catch(() => undefined);
  }
}

/** Prints the table and writes the results file of `storage`. */
function finish(metrics: Record<string, Metric>, started: number, storage: string): void {
  const out = {
    scale: scaleKey,
    storage,
    repeat,
    corpus,
    seedSeconds,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    metrics,
  };
  const file = opt('out') ?? path.join(__dirname, '..', '..', 'bench', storage === 'postgres' ? 'results.json' : `results-${storage}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  const rows = Object.entries(metrics).map(([k, m]) => [
    k,
    String(m.value),
    String(m.baseline),
    String(m.ratio),
    m.target == null ? '-' : `≤ ${m.target}`,
    m.ratio <= (m.target ?? Infinity) ? 'ok' : 'MISSED',
    m.unit,
  ]);
  const widths = [0, 1, 2, 3, 4, 5].map((i) =>
    Math.max(...[['metric', 'value', 'baseline', 'ratio', 'target', '', 'unit'][i], ...rows.map((r) => r[i])].map((s) => s.length)),
  );
  const line = (r: string[]) => r.map((c, i) => (i < 6 ? c.padEnd(widths[i]) : c)).join('  ');
  console.log(line(['metric', 'value', 'baseline', 'ratio', 'target', '', 'unit']));
  for (const r of rows) console.log(line(r));
  console.log(`wrote ${path.relative(process.cwd(), file)} (${out.storage}, scale ${scaleKey}, ${out.seconds}s)`);
}

/** Seeds the scale's synthetic data set (and a clean one for the export) when the database has no content yet. */
async function seedIfEmpty(db: Database, ctx: (role: Role) => RequestContext): Promise<void> {
  const [{ n: existing }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM content_items`);
  if (existing === 0) {
    log(
      `seeding scale ${scaleKey}: ${scale.users} users, ${scale.items} items, ${scale.objections} objections, plus ${scale.clean} clean items for the export`,
    );
    const t0 = performance.now();
    const t = await time(() =>
      runAudited(ctx(Role.INGEST_SERVICE), 'syntheticSeed', scale, async (tx) => {
        await writeSynthetic(tx.manager, { users: scale.users, items: scale.items, objections: scale.objections, seed: 1, prefix: 'b-' });
        await writeSynthetic(tx.manager, {
          users: Math.ceil(scale.clean / 20),
          items: scale.clean,
          objections: 0,
          seed: 2,
          prefix: 'bc-',
          profile: 'clean',
        });
        return { payload: undefined, targetIds: [] };
      }),
    );
    if (!embedded) await db.dataSource.query(`VACUUM ANALYZE`);
    seedSeconds = Math.round((performance.now() - t0) / 1000);
    log(`seeded in ${(t / 1000).toFixed(1)}s, ${seedSeconds}s with the vacuum`);
  }
}

/** A layered DAG of 10,000 dataset nodes: a root, then 50 layers of 200, each node feeding two in the next layer. */
async function buildLineageGraph(db: Database): Promise<string> {
  const [existing] = await db.dataSource.query(`SELECT id FROM datasets WHERE name = 'bench-lineage-root'`);
  if (existing) return existing.id;
  await db.dataSource.transaction(async (m) => {
    await m.query(
      `INSERT INTO datasets (id, name, version, policy_id, snapshot_at, requested_by, origin, spec, member_count, candidate_count, exclusions, manifest_digest)
       SELECT md5('lin:' || g)::uuid, CASE WHEN g = 0 THEN 'bench-lineage-root' ELSE 'bench-lineage-' || g END, 1,
              (SELECT id FROM policies WHERE key = 'eu-ai-training' AND version = 1), now(), 'bench', 'DERIVE', '{}', 0, 0, '[]', repeat('0', 64)
       FROM generate_series(0, 9999) AS g`,
    );
    await m.query(
      `INSERT INTO lineage_edges (upstream_id, downstream_id, type)
       SELECT DISTINCT md5('lin:' || src)::uuid, md5('lin:' || dst)::uuid, 'DERIVED_FROM' FROM (
         SELECT 0 AS src, g AS dst FROM generate_series(1, 200) AS g
         UNION ALL
         SELECT g, 1 + ((g - 1) / 200 + 1) * 200 + ((g * 7 + k * 13) % 200) FROM generate_series(1, 9800) AS g, generate_series(0, 1) AS k
       ) e WHERE dst <= 9999`,
    );
  });
  return (await db.dataSource.query(`SELECT id FROM datasets WHERE name = 'bench-lineage-root'`))[0].id;
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${buf.slice(-2000)}`)));
  });
}

async function startServer(config: ReturnType<typeof loadConfig>) {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'src', 'main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: config.databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      AUTH_SECRET: process.env.AUTH_SECRET ?? config.authSecret,
      // Production needs a checkpoint signing key (and a directory for the checkpoint file): a throwaway one.
      AUDIT_SIGNING_KEY: crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      AUDIT_CHECKPOINT_DIR: fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'aidg-bench-audit-')),
      AUDIT_CHECKPOINT_INTERVAL: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitForLine(child, /"port":(\d+)/);
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, port: Number(m[1]) };
}

async function startBaseline(config: ReturnType<typeof loadConfig>) {
  const child = spawn(process.execPath, [path.join(__dirname, 'baseline-server.js')], {
    env: { ...process.env, DATABASE_URL: config.databaseUrl, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitForLine(child, /listening (\d+)/);
  return { child, port: Number(m[1]) };
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
