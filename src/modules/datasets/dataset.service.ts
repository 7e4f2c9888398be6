import crypto from 'node:crypto';
import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { checkLanguages, checkString, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit/audited-mutation';
import { evaluationFromSql, known, NOW, reasonsSql, unknownTo } from '../eligibility/eligibility.rules';
import { inKeyOrder, isUuid } from '../../common/ids';
import { lockForTransaction, sqlParams } from '../../common/sql';
import type { Policy } from '../policies/policy.types';
import { attachMemberPartition, createDistributedMemberPartition, createMemberPartition, keyDistributedMemberPartition, manifestDigestSql, memberPartitionName } from './dataset.partitions';
import { distributedTables, withFactsSettled } from '../../db/citus';
import type { Metrics } from '../../common/metrics';
import { buildStatementSql, distributedBuildSql, eligibleCandidatesSql, MembershipInput, membersFromEligibleSql } from './dataset.membership';
import {
  BuildVerification, DatasetDeriveInput, DatasetFilterInput, DatasetMember, DatasetOrigin, DatasetPayload, DatasetRemediateInput,
  DatasetRequestInput, DatasetRow, DatasetsFilter, DatasetSpec, DatasetStatus, DatasetTaint, DeriveOperation, SampleInput,
} from './dataset.types';

export const DATASET_COLUMNS = `d.id, d.name, d.version, d.policy_id AS "policyId", d.snapshot_at AS "snapshotAt",
  d.knowledge_snapshot::text AS "knowledgeSnapshot", d.requested_by AS "requestedBy", d.purpose,
  d.origin, d.spec, d.status, d.superseded_by AS "supersededBy", d.member_count AS "memberCount", d.candidate_count AS "candidateCount",
  d.exclusions, d.manifest_digest AS "manifestDigest", d.created_at AS "createdAt"`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function specFilters(f: DatasetFilterInput | undefined): DatasetSpec['filters'] | undefined {
  if (!f) return undefined;
  const out: NonNullable<DatasetSpec['filters']> = {};
  if (f.platforms?.length) out.platforms = [...new Set(f.platforms)];
  if (f.kinds?.length) out.kinds = [...new Set(f.kinds)];
  if (f.languages?.length) out.languages = [...new Set(f.languages)];
  if (f.createdFrom) out.createdFrom = f.createdFrom.toISOString();
  if (f.createdTo) out.createdTo = f.createdTo.toISOString();
  return Object.keys(out).length ? out : undefined;
}

function checkSample(problems: Problems, field: string, s: SampleInput | undefined) {
  if (!s) return;
  if (!(s.rate > 0 && s.rate <= 1)) problems.add(`${field}.rate`, 'rate must be greater than 0 and at most 1');
  if (!Number.isInteger(s.seed)) problems.add(`${field}.seed`, 'seed must be an integer');
}

/** Training datasets: requests, derivations, remediation, taint, build verification, members and export. */
type BuildInput = { name: string; policyId: string; purpose: string | null; origin: DatasetOrigin; spec: DatasetSpec };

export class DatasetService {
  /** `metrics` times every build (dataset_build_duration_seconds). */
  constructor(private readonly metrics?: Pick<Metrics, 'datasetBuildTimer'>) {}

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(DatasetRow | undefined)[]> {
    const valid = ids.filter(isUuid);
    const rows: DatasetRow[] = valid.length ? await ctx.manager.query(`SELECT ${DATASET_COLUMNS} FROM datasets d WHERE d.id = ANY($1::uuid[])`, [valid]) : [];
    return inKeyOrder(ids, rows);
  }

  /** ML isolation (AccessService): a token carrying ML_ENGINEER sees only the datasets its subject requested. */
  visible(ctx: RequestContext, d: DatasetRow): boolean {
    return ctx.services.access.sees(ctx, d.requestedBy);
  }

  /** A dataset by id if the caller may see it, else null (nested fields such as `supersededBy`). */
  async visibleById(ctx: RequestContext, id: string): Promise<DatasetRow | null> {
    const d = isUuid(id) ? await ctx.loaders.dataset.load(id) : undefined;
    return d && this.visible(ctx, d) ? d : null;
  }

  async get(ctx: RequestContext, id: string): Promise<DatasetRow> {
    const d = await this.visibleById(ctx, id);
    if (!d) throw new DomainError(ErrorCode.NOT_FOUND, `No dataset ${shown(id)}`, 'datasetId');
    return d;
  }

  async list(ctx: RequestContext, filter: DatasetsFilter = {}, first?: number, after?: string): Promise<Connection<DatasetRow>> {
    const limit = pageSize(first);
    // Newest first: the key is (created_at, id), the instant as text with microseconds so that it survives JSON.
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const { params, p } = sqlParams();
    const where: string[] = [];
    if (filter.name) where.push(`d.name = ${p(filter.name)}`);
    if (filter.status) where.push(`d.status = ${p(filter.status)}`);
    where.push(ctx.services.access.ownerSql(ctx, 'd.requested_by', p));
    const countWhere = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...params];
    if (cursor) where.push(`(d.created_at, d.id) < (${p(cursor[0])}::timestamptz, ${p(cursor[1])}::uuid)`);
    const rows: DatasetRow[] = await ctx.manager.query(
      `SELECT ${DATASET_COLUMNS}, to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt" FROM datasets d ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.id DESC LIMIT ${limit + 1}`,
      params,
    );
    // Cursor keys must survive JSON: keep the timestamp with microseconds as text.
    const conn = toConnection(rows, limit, (r) => [(r as any).cursorAt ?? r.createdAt.toISOString(), r.id], (r) => r);
    return lazyTotal(conn, async () => (await ctx.manager.query(`SELECT count(*)::int AS n FROM datasets d ${countWhere}`, countParams))[0].n);
  }

  /** datasetRequest: membership computed by the server, now, under an ENFORCE policy. */
  /** `id`: the new version's id (only the demo seed chooses one, so that the IDE's examples can name it). */
  async request(ctx: RequestContext, input: DatasetRequestInput, id?: string): Promise<MutationOutcome<DatasetPayload>> {
    const problems = new Problems();
    if (!NAME.test(input.name)) problems.add('name', 'name must be letters, digits, dot, dash or underscore (1-100 characters)');
    checkString(problems, 'purpose', input.purpose, { max: MAX_FREE_TEXT });
    checkLanguages(problems, 'filters.languages', input.filters?.languages);
    checkSample(problems, 'sample', input.sample);
    if (input.cap != null && !(input.cap >= 1)) problems.add('cap', 'cap must be at least 1');
    if (input.filters?.createdFrom && input.filters.createdTo && input.filters.createdFrom >= input.filters.createdTo) problems.add('filters.createdTo', 'createdTo must be after createdFrom');
    problems.throwIfAny();
    const policy = await ctx.services.eligibility.enforcedPolicy(ctx, input.policyKey);
    const spec: DatasetSpec = { filters: specFilters(input.filters), sample: input.sample ? { rate: input.sample.rate, seed: input.sample.seed } : undefined, cap: input.cap ?? undefined };
    const dataset = await this.build(ctx, { name: input.name, policyId: policy.id, purpose: input.purpose ?? null, origin: DatasetOrigin.REQUEST, spec }, id);
    return { payload: { dataset, userErrors: [] }, targetIds: [dataset.id] };
  }

  /** datasetDerive: a transformation of existing versions, re-checked against the policy now. */
  async derive(ctx: RequestContext, input: DatasetDeriveInput): Promise<MutationOutcome<DatasetPayload>> {
    const problems = new Problems();
    if (!NAME.test(input.name)) problems.add('name', 'name must be letters, digits, dot, dash or underscore (1-100 characters)');
    const parents = [...new Set(input.parentIds.map((i) => i.toLowerCase()))];
    if (parents.length === 0) problems.add('parentIds', 'at least one parent is needed');
    if ([DeriveOperation.FILTER, DeriveOperation.SAMPLE].includes(input.operation) && parents.length !== 1) problems.add('parentIds', `${input.operation} takes exactly one parent`);
    if (input.operation === DeriveOperation.FILTER && !specFilters(input.filters)) problems.add('filters', 'FILTER needs filters');
    if (input.operation === DeriveOperation.SAMPLE && !input.sample) problems.add('sample', 'SAMPLE needs a sample');
    checkString(problems, 'purpose', input.purpose, { max: MAX_FREE_TEXT });
    checkLanguages(problems, 'filters.languages', input.filters?.languages);
    checkSample(problems, 'sample', input.sample);
    problems.throwIfAny();
    const rows = await this.byIds(ctx, parents);
    rows.forEach((r, i) => {
      if (!r || !this.visible(ctx, r)) problems.add(`parentIds[${i}]`, `No dataset ${parents[i]}`, ErrorCode.NOT_FOUND);
    });
    problems.throwIfAny();
    // Parents built under versions of one key are all re-checked under its latest ENFORCE version; different keys conflict.
    const policy = await this.currentPolicy(ctx, rows.map((r) => r!.policyId));
    const spec: DatasetSpec = {
      operation: input.operation,
      parents,
      filters: input.operation === DeriveOperation.FILTER ? specFilters(input.filters) : undefined,
      sample: input.operation === DeriveOperation.SAMPLE && input.sample ? { rate: input.sample.rate, seed: input.sample.seed } : undefined,
    };
    const dataset = await this.build(ctx, { name: input.name, policyId: policy.id, purpose: input.purpose ?? null, origin: DatasetOrigin.DERIVE, spec });
    await this.addEdges(ctx, parents, dataset.id, 'DERIVED_FROM', { operation: input.operation, filters: spec.filters, sample: spec.sample });
    return { payload: { dataset, userErrors: [] }, targetIds: [dataset.id, ...parents] };
  }

  /** datasetRemediate: the next version of the dataset without its newly ineligible members; the old one is superseded. */
  async remediate(ctx: RequestContext, input: DatasetRemediateInput): Promise<MutationOutcome<DatasetPayload>> {
    const old = await this.get(ctx, input.datasetId);
    // Lock the row: two remediations of one version must not both succeed.
    const [locked] = await ctx.manager.query(`SELECT status FROM datasets WHERE id = $1 FOR UPDATE`, [old.id]);
    if (locked.status === DatasetStatus.SUPERSEDED) throw new DomainError(ErrorCode.CONFLICT, 'this version is already superseded', 'datasetId');
    const spec: DatasetSpec = { operation: undefined, parents: [old.id] };
    const policy = await this.currentPolicy(ctx, [old.policyId]);
    const dataset = await this.build(ctx, { name: old.name, policyId: policy.id, purpose: old.purpose, origin: DatasetOrigin.REMEDIATE, spec });
    await this.addEdges(ctx, [old.id], dataset.id, 'REMEDIATED_FROM', { dropped: old.memberCount - dataset.memberCount });
    await ctx.manager.query(`UPDATE datasets SET status = 'SUPERSEDED', superseded_by = $2 WHERE id = $1`, [old.id, dataset.id]);
    ctx.loaders.dataset.clear(old.id);
    return { payload: { dataset, userErrors: [] }, targetIds: [dataset.id, old.id] };
  }

  /**
   * The policy a derivation or remediation re-checks against: the latest ENFORCE version of the key its parents were
   * built under (not their possibly superseded version). Parents built under different keys are refused with CONFLICT.
   */
  private async currentPolicy(ctx: RequestContext, policyIds: string[]): Promise<Policy> {
    const versions = await ctx.loaders.policyById.loadMany([...new Set(policyIds)]);
    const keys = new Set(versions.map((v) => (v as Policy).key));
    if (keys.size > 1) throw new DomainError(ErrorCode.CONFLICT, `parents were built under different policies (${[...keys].join(', ')})`, 'parentIds');
    return ctx.services.eligibility.enforcedPolicy(ctx, [...keys][0]);
  }

  private async addEdges(ctx: RequestContext, upstream: string[], downstream: string, type: string, transformation: unknown) {
    await ctx.manager.query(
      `INSERT INTO lineage_edges (upstream_id, downstream_id, type, transformation) SELECT u, $2, $3, $4 FROM unnest($1::uuid[]) AS u`,
      [upstream, downstream, type, JSON.stringify(transformation)],
    );
  }

  /**
   * Builds one version inside the caller's transaction: its own partition, one set-based statement for membership and
   * exclusions, keys added after the load, then the manifest digest. The knowledge is that statement's snapshot,
   * recorded with the version; fact writers are never waited for and never wait.
   */
  private async build(ctx: RequestContext, d: BuildInput, id: string = crypto.randomUUID()): Promise<DatasetRow> {
    const observe = this.metrics?.datasetBuildTimer();
    const distributed = (await distributedTables(ctx.manager)).has('dataset_members');
    const labels = { origin: d.origin, database: distributed ? 'citus' : 'postgres' };
    try {
      const dataset = await this.buildVersion(ctx, d, distributed, id);
      observe?.({ ...labels, outcome: 'ok' });
      return dataset;
    } catch (err) {
      observe?.({ ...labels, outcome: 'failed' });
      throw err;
    }
  }

  private async buildVersion(ctx: RequestContext, d: BuildInput, distributed: boolean, id: string): Promise<DatasetRow> {
    const m = ctx.manager;
    await lockForTransaction(m, `dataset:${d.name}`);
    const { params, p } = sqlParams(d.policyId, id);
    const policy = (await ctx.loaders.policyById.load(d.policyId))!;
    const membership: MembershipInput = { spec: d.spec, policyId: '$1::uuid', times: NOW, p, policy: { values: policy, bind: p } };
    let part: string;
    let stats: { snapshot: string; snapshot_at: Date; candidates: number; members: number; exclusions: unknown };
    if (distributed) {
      // Citus: the same evaluation as statements the workers run (dataset.membership distributedBuildSql). The
      // snapshot and the statement that reads the facts first, with no fact writer in flight (withFactsSettled), before
      // this build holds any lock a writer could wait for; then the partition, the members and the counts.
      const sql = distributedBuildSql(memberPartitionName(id), `'${id}'::uuid`);
      const evaluated = sqlParams(d.policyId);
      const knowledge = await withFactsSettled(m, async () => {
        const [k] = await m.query(`SELECT pg_current_snapshot()::text AS snapshot, clock_timestamp() AS snapshot_at`);
        await m.query(sql.candidates({ ...membership, p: evaluated.p, policy: { values: policy, bind: evaluated.p } }), evaluated.params);
        return k;
      });
      part = await createDistributedMemberPartition(m, id);
      const selected = sqlParams();
      await m.query(sql.members({ ...membership, p: selected.p }), selected.params);
      const [counts] = await m.query(sql.stats);
      await m.query(sql.cleanup);
      await keyDistributedMemberPartition(m, part);
      stats = { ...knowledge, ...counts };
    } else {
      part = await createMemberPartition(m, id);
      [stats] = await m.query(buildStatementSql(membership, part, '$2::uuid'), params);
      await attachMemberPartition(m, part, id);
    }
    const [{ digest }] = await m.query(manifestDigestSql(part));
    // No RETURNING: Citus 13.2 deparses this INSERT … SELECT on one reference table with `RETURNING datasets.id` while
    // aliasing the scanned copy, which the worker refuses (missing FROM-clause entry); the id is known anyway.
    await m.query(
      `INSERT INTO datasets (id, name, version, policy_id, snapshot_at, knowledge_snapshot, requested_by, purpose, origin, spec, member_count, candidate_count,
         exclusions, manifest_digest)
       SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $12, $13::pg_snapshot, $4, $5, $6, $7, $8, $9, $10, $11 FROM datasets WHERE name = $2`,
      [id, d.name, d.policyId, ctx.viewer!.subject, d.purpose, d.origin, JSON.stringify(d.spec), stats.members, stats.candidates, JSON.stringify(stats.exclusions), digest,
        stats.snapshot_at, stats.snapshot],
    );
    return (await this.byIds(ctx, [id]))[0]!;
  }

  /** A keyset page of members ordered by item id. */
  async members(ctx: RequestContext, dataset: DatasetRow, first?: number, after?: string): Promise<Connection<DatasetMember>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, ['uuid']);
    const rows: DatasetMember[] = await ctx.manager.query(
      `SELECT item_id AS "itemId", content_hash AS "contentHash" FROM dataset_members WHERE dataset_id = $1 ${cursor ? 'AND item_id > $2::uuid' : ''} ORDER BY item_id LIMIT ${limit + 1}`,
      cursor ? [dataset.id, cursor[0]] : [dataset.id],
    );
    const conn = toConnection(rows, limit, (r) => [r.itemId], (r) => r);
    return lazyTotal(conn, async () => dataset.memberCount);
  }

  /**
   * Members of each dataset that are ineligible now (under the dataset's policy version), by reason: one statement.
   * Members were all eligible with the build's knowledge and no fact takes effect after it is recorded, so only members
   * touched by a fact the build's snapshot did not know (ledger event, erasure, account or content deletion, a
   * correction of birth date, country or labels, a visibility change) can have become ineligible: those few are
   * re-evaluated with the same rules, the rest are not read.
   */
  taint(ctx: RequestContext, datasetIds: readonly string[]): Promise<DatasetTaint[]> {
    // Whole-dataset work, bounded with the other whole-corpus evaluations (one slot per request, see CorpusGate).
    return ctx.services.corpus.run(ctx, () => this.evaluateTaint(ctx, datasetIds));
  }

  private async evaluateTaint(ctx: RequestContext, datasetIds: readonly string[]): Promise<DatasetTaint[]> {
    const evaluatedAt = new Date();
    const unknown = (xid: string, at: string) => unknownTo('ds.s', 'ds.at', xid, at);
    const rows: { dataset_id: string; n: number; reasons: { reason: string; count: number }[] }[] = await ctx.manager.query(
      `WITH ds AS (SELECT id, policy_id, snapshot_at AS at, knowledge_snapshot AS s FROM datasets WHERE id = ANY($1::uuid[])),
       -- People touched, apart (MATERIALIZED): Citus cannot join a UNION of reference tables to a distributed one.
       people AS MATERIALIZED (
         SELECT ds.id AS dataset_id, a.user_id FROM ds
           CROSS JOIN LATERAL (
             SELECT e.user_id FROM consent_events e WHERE ${unknown('e.recorded_xid', 'e.recorded_at')}
             UNION SELECT h.user_id FROM user_attribute_history h WHERE ${unknown('h.superseded_xid', 'h.superseded_at')}
             UNION SELECT u.id FROM users u WHERE u.erased_at IS NOT NULL AND ${unknown('u.erasure_xid', 'u.erased_at')}
             UNION SELECT u.id FROM users u WHERE u.deleted_at IS NOT NULL AND ${unknown('u.deletion_xid', 'u.deletion_recorded_at')}
             -- versions built before snapshots were kept: any change to the person since
             UNION SELECT u.id FROM users u WHERE ds.s IS NULL AND u.updated_at > ds.at) a
       ),
       touched AS (
         SELECT a.dataset_id, m.item_id, m.author_id FROM people a
           JOIN dataset_members m ON m.dataset_id = a.dataset_id AND m.author_id = a.user_id
         UNION
         SELECT ds.id, m.item_id, m.author_id FROM ds
           CROSS JOIN LATERAL (
             SELECT v.item_id AS id, v.author_id FROM visibility_changes v WHERE ${unknown('v.recorded_xid', 'v.recorded_at')}
             UNION SELECT c.id, c.author_id FROM content_items c WHERE c.deleted_at IS NOT NULL AND ${unknown('c.deletion_xid', 'c.deletion_recorded_at')}
             UNION SELECT h.item_id, h.author_id FROM content_label_history h WHERE ${unknown('h.superseded_xid', 'h.superseded_at')}
             UNION SELECT c.id, c.author_id FROM content_items c WHERE ds.s IS NULL AND c.updated_at > ds.at) i
           JOIN dataset_members m ON m.dataset_id = ds.id AND m.item_id = i.id AND m.author_id = i.author_id
       ),
       r AS (
         SELECT c.dataset_id, ${reasonsSql(NOW)} AS reasons
         FROM ${evaluationFromSql({
           items: `(SELECT ci.*, t.dataset_id, ds.policy_id AS eval_policy_id FROM touched t JOIN ds ON ds.id = t.dataset_id JOIN content_items ci ON ci.id = t.item_id AND ci.author_id = t.author_id)`,
           policyId: 'c.eval_policy_id',
           times: NOW,
           policyPerRow: true,
         })}
       )
       SELECT dataset_id, count(*) FILTER (WHERE cardinality(reasons) > 0)::int AS n,
              coalesce((SELECT json_agg(json_build_object('reason', reason, 'count', k) ORDER BY k DESC, reason)
                        FROM (SELECT reason, count(*)::int AS k FROM r r2, unnest(r2.reasons) reason WHERE r2.dataset_id = r.dataset_id GROUP BY reason) x), '[]'::json) AS reasons
       FROM r GROUP BY dataset_id`,
      [datasetIds.filter(isUuid)],
    );
    const byId = new Map(rows.map((r) => [r.dataset_id, r]));
    return datasetIds.map((id) => {
      const r = byId.get(id);
      return { tainted: (r?.n ?? 0) > 0, taintedCount: r?.n ?? 0, reasons: (r?.reasons ?? []) as any, evaluatedAt };
    });
  }

  /**
   * Re-evaluates the dataset with exactly the knowledge of its snapshot (facts committed before it, each correction
   * as it stood then) and compares with its members. Members of people erased since cannot be re-checked (their
   * birth date is gone): they are counted as unverifiable and left out of the comparison.
   */
  verifyBuild(ctx: RequestContext, dataset: DatasetRow): Promise<BuildVerification> {
    return ctx.services.corpus.run(ctx, () => this.evaluateBuild(ctx, dataset));
  }

  private async evaluateBuild(ctx: RequestContext, dataset: DatasetRow): Promise<BuildVerification> {
    const { params, p } = sqlParams(dataset.policyId, dataset.snapshotAt, dataset.id, dataset.knowledgeSnapshot);
    const knowledge = { snapshot: '$4::pg_snapshot', at: '$2::timestamptz' };
    const times = { asOf: '$2::timestamptz', knowledge };
    const spec = dataset.spec;
    const m = { spec, policyId: '$1::uuid', times, p };
    const expected = membersFromEligibleSql(m, eligibleCandidatesSql(m));
    const [row] = await ctx.manager.query(
      `WITH expected AS MATERIALIZED (SELECT id FROM ${expected} x),
            actual AS MATERIALIZED (SELECT item_id AS id FROM dataset_members WHERE dataset_id = $3),
            unverifiable AS MATERIALIZED (
              SELECT c.id FROM content_items c JOIN users u ON u.id = c.author_id
              WHERE c.id IN (SELECT id FROM actual UNION SELECT id FROM expected)
                AND u.erased_at IS NOT NULL AND NOT ${known(knowledge, 'u.erasure_xid', 'u.erased_at')})
       SELECT (SELECT count(*)::int FROM actual) AS members,
              (SELECT count(*)::int FROM expected) AS expected,
              (SELECT count(*)::int FROM expected e WHERE NOT EXISTS (SELECT 1 FROM actual a WHERE a.id = e.id) AND e.id NOT IN (SELECT id FROM unverifiable)) AS missing,
              (SELECT count(*)::int FROM actual a WHERE NOT EXISTS (SELECT 1 FROM expected e WHERE e.id = a.id) AND a.id NOT IN (SELECT id FROM unverifiable)) AS unexpected,
              (SELECT count(*)::int FROM unverifiable) AS unverifiable`,
      params,
    );
    return {
      reproduced: row.missing === 0 && row.unexpected === 0,
      memberCount: row.members,
      expectedCount: row.expected,
      missingCount: row.missing,
      unexpectedCount: row.unexpected,
      unverifiableCount: row.unverifiable,
    };
  }

  /** The parents of each dataset (DERIVED_FROM and REMEDIATED_FROM upstreams). */
  async parents(ctx: RequestContext, ids: readonly string[]): Promise<DatasetRow[][]> {
    const rows: (DatasetRow & { child: string })[] = await ctx.manager.query(
      `SELECT e.downstream_id AS child, ${DATASET_COLUMNS} FROM lineage_edges e JOIN datasets d ON d.id = e.upstream_id
       WHERE e.downstream_id = ANY($1::uuid[]) AND e.type IN ('DERIVED_FROM','REMEDIATED_FROM') ORDER BY d.created_at`,
      [ids.filter(isUuid)],
    );
    return ids.map((id) => rows.filter((r) => r.child === id));
  }

  /** The parents the caller may see (`Dataset.parents`). */
  async visibleParents(ctx: RequestContext, d: DatasetRow): Promise<DatasetRow[]> {
    return ctx.services.access.visible(ctx, await ctx.loaders.datasetParents.load(d.id), (r) => r.requestedBy);
  }

  /** Every parent, those the caller may not see as opaque ids (OpenLineage inputs). */
  async parentsOrIds(ctx: RequestContext, d: DatasetRow): Promise<(DatasetRow | string)[]> {
    return ctx.services.access.redact(ctx, await ctx.loaders.datasetParents.load(d.id), (r) => r.requestedBy);
  }

  /** Guards an export: the service never hands out data a person has objected to. */
  async exportable(ctx: RequestContext, id: string): Promise<DatasetRow> {
    const dataset = await this.get(ctx, id);
    if (dataset.status === DatasetStatus.SUPERSEDED) {
      throw new DomainError(ErrorCode.DATASET_SUPERSEDED, `Dataset ${dataset.name} v${dataset.version} is superseded by ${dataset.supersededBy}: export that version instead`, 'datasetId');
    }
    // Exports are bounded by their own budget (EXPORT_CONCURRENCY), not by the whole-corpus one.
    const [taint] = await this.evaluateTaint(ctx, [dataset.id]);
    if (taint.tainted) {
      throw new DomainError(ErrorCode.DATASET_TAINTED, `Dataset ${dataset.name} v${dataset.version} holds ${taint.taintedCount} member(s) that are no longer eligible: run datasetRemediate and export the new version`, 'datasetId');
    }
    return dataset;
  }
}
