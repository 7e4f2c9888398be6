import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import type { Connection } from '../../common/pagination';
import { checkLanguages, checkString, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit';
import { inKeyOrder, isUuid } from '../../common/ids';
import type { Policy } from '../policies';
import type { Metrics } from '../../common/metrics';
import type { CorpusGate } from '../../common/corpus-gate';
import type { AccessService } from '../access';
import type { EligibilityService } from '../eligibility';
import { cardData, type CardData } from './dataset.card';
import {
  buildMembers,
  datasetPage,
  datasetsByIds,
  insertDataset,
  lockDatasetName,
  lockDatasetStatus,
  memberPage,
  membersDistributed,
  supersedeDataset,
  taintedMembers,
  verificationCounts,
} from './dataset.store';
import {
  BuildVerification,
  DatasetDeriveInput,
  DatasetFilterInput,
  DatasetMember,
  DatasetOrigin,
  DatasetPayload,
  DatasetRemediateInput,
  DatasetRequestInput,
  DatasetRow,
  DatasetsFilter,
  DatasetSpec,
  DatasetStatus,
  DatasetTaint,
  DeriveOperation,
  SampleInput,
} from './dataset.types';

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

/**
 * What datasets need of the lineage graph, whose table (lineage_edges) the lineage module owns. createServices passes
 * the lineage module's `datasetLineage`: LineageService depends on DatasetService, so DatasetService takes these
 * functions of the lineage store rather than the service (no constructor cycle, no import of lineage from datasets).
 */
export interface DatasetLineage {
  /** Records that `downstream` was made from each of `upstream`, with the transformation. */
  addEdges(
    db: EntityManager,
    upstream: string[],
    downstream: string,
    type: 'DERIVED_FROM' | 'REMEDIATED_FROM',
    transformation: unknown,
  ): Promise<void>;
  /** The parents (DERIVED_FROM and REMEDIATED_FROM upstreams) of the datasets `ids`, each row with its `child`. */
  parents(db: EntityManager, ids: string[]): Promise<(DatasetRow & { child: string })[]>;
}

/** Training datasets: requests, derivations, remediation, taint, build verification, members and export. */
type BuildInput = { name: string; policyId: string; purpose: string | null; origin: DatasetOrigin; spec: DatasetSpec };

export class DatasetService {
  /** `metrics` times every build (dataset_build_duration_seconds). */
  constructor(
    private readonly access: AccessService,
    private readonly eligibility: EligibilityService,
    private readonly corpus: CorpusGate,
    private readonly lineage: DatasetLineage,
    private readonly metrics?: Pick<Metrics, 'datasetBuildTimer'>,
  ) {}

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(DatasetRow | undefined)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await datasetsByIds(ctx.manager, valid) : [];
    return inKeyOrder(ids, rows);
  }

  /** ML isolation (AccessService): a token carrying ML_ENGINEER sees only the datasets its subject requested. */
  visible(ctx: RequestContext, d: DatasetRow): boolean {
    return this.access.sees(ctx, d.requestedBy);
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

  /** Dataset versions, newest first; ML engineers see their own (AccessService). */
  list(ctx: RequestContext, filter: DatasetsFilter = {}, first?: number, after?: string): Promise<Connection<DatasetRow>> {
    const owner = (column: string, p: (value: unknown) => string) => this.access.ownerSql(ctx, column, p);
    return datasetPage(ctx.manager, filter, owner, first, after);
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
    if (input.filters?.createdFrom && input.filters.createdTo && input.filters.createdFrom >= input.filters.createdTo)
      problems.add('filters.createdTo', 'createdTo must be after createdFrom');
    problems.throwIfAny();
    const policy = await this.eligibility.enforcedPolicy(ctx, input.policyKey);
    const spec: DatasetSpec = {
      filters: specFilters(input.filters),
      sample: input.sample ? { rate: input.sample.rate, seed: input.sample.seed } : undefined,
      cap: input.cap ?? undefined,
    };
    const dataset = await this.build(
      ctx,
      { name: input.name, policyId: policy.id, purpose: input.purpose ?? null, origin: DatasetOrigin.REQUEST, spec },
      id,
    );
    return { payload: { dataset, userErrors: [] }, targetIds: [dataset.id] };
  }

  /** datasetDerive: a transformation of existing versions, re-checked against the policy now. */
  async derive(ctx: RequestContext, input: DatasetDeriveInput): Promise<MutationOutcome<DatasetPayload>> {
    const problems = new Problems();
    if (!NAME.test(input.name)) problems.add('name', 'name must be letters, digits, dot, dash or underscore (1-100 characters)');
    const parents = [...new Set(input.parentIds.map((i) => i.toLowerCase()))];
    if (parents.length === 0) problems.add('parentIds', 'at least one parent is needed');
    if ([DeriveOperation.FILTER, DeriveOperation.SAMPLE].includes(input.operation) && parents.length !== 1)
      problems.add('parentIds', `${input.operation} takes exactly one parent`);
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
    const policy = await this.currentPolicy(
      ctx,
      rows.map((r) => r!.policyId),
    );
    const spec: DatasetSpec = {
      operation: input.operation,
      parents,
      filters: input.operation === DeriveOperation.FILTER ? specFilters(input.filters) : undefined,
      sample: input.operation === DeriveOperation.SAMPLE && input.sample ? { rate: input.sample.rate, seed: input.sample.seed } : undefined,
    };
    const dataset = await this.build(ctx, {
      name: input.name,
      policyId: policy.id,
      purpose: input.purpose ?? null,
      origin: DatasetOrigin.DERIVE,
      spec,
    });
    await this.lineage.addEdges(ctx.manager, parents, dataset.id, 'DERIVED_FROM', {
      operation: input.operation,
      filters: spec.filters,
      sample: spec.sample,
    });
    return { payload: { dataset, userErrors: [] }, targetIds: [dataset.id, ...parents] };
  }

  /** datasetRemediate: the next version of the dataset without its newly ineligible members; the old one is superseded. */
  async remediate(ctx: RequestContext, input: DatasetRemediateInput): Promise<MutationOutcome<DatasetPayload>> {
    const old = await this.get(ctx, input.datasetId);
    // Lock the row: two remediations of one version must not both succeed.
    const status = await lockDatasetStatus(ctx.manager, old.id);
    if (status === DatasetStatus.SUPERSEDED) throw new DomainError(ErrorCode.CONFLICT, 'this version is already superseded', 'datasetId');
    const spec: DatasetSpec = { operation: undefined, parents: [old.id] };
    const policy = await this.currentPolicy(ctx, [old.policyId]);
    const dataset = await this.build(ctx, {
      name: old.name,
      policyId: policy.id,
      purpose: old.purpose,
      origin: DatasetOrigin.REMEDIATE,
      spec,
    });
    await this.lineage.addEdges(ctx.manager, [old.id], dataset.id, 'REMEDIATED_FROM', { dropped: old.memberCount - dataset.memberCount });
    await supersedeDataset(ctx.manager, old.id, dataset.id);
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
    if (keys.size > 1)
      throw new DomainError(ErrorCode.CONFLICT, `parents were built under different policies (${[...keys].join(', ')})`, 'parentIds');
    return this.eligibility.enforcedPolicy(ctx, [...keys][0]);
  }

  /**
   * Builds one version inside the caller's transaction: its own partition, one set-based statement for membership and
   * exclusions, keys added after the load, then the manifest digest. The knowledge is that statement's snapshot,
   * recorded with the version; fact writers are never waited for and never wait.
   */
  private async build(ctx: RequestContext, d: BuildInput, id: string = crypto.randomUUID()): Promise<DatasetRow> {
    const observe = this.metrics?.datasetBuildTimer();
    const distributed = await membersDistributed(ctx.manager);
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
    await lockDatasetName(m, d.name);
    const policy = (await ctx.loaders.policyById.load(d.policyId))!;
    const { stats, digest } = await buildMembers(m, { datasetId: id, policyId: d.policyId, policy, spec: d.spec, distributed });
    await insertDataset(m, {
      id,
      name: d.name,
      policyId: d.policyId,
      requestedBy: ctx.viewer!.subject,
      purpose: d.purpose,
      origin: d.origin,
      spec: d.spec,
      stats,
      digest,
    });
    return (await this.byIds(ctx, [id]))[0]!;
  }

  /** A keyset page of members ordered by item id; totalCount is the version's member count. */
  members(ctx: RequestContext, dataset: DatasetRow, first?: number, after?: string): Promise<Connection<DatasetMember>> {
    return memberPage(ctx.manager, dataset, first, after);
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
    return this.corpus.run(ctx, () => this.evaluateTaint(ctx, datasetIds));
  }

  private async evaluateTaint(ctx: RequestContext, datasetIds: readonly string[]): Promise<DatasetTaint[]> {
    const evaluatedAt = new Date();
    const rows = await taintedMembers(ctx.manager, datasetIds.filter(isUuid));
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
    return this.corpus.run(ctx, () => this.evaluateBuild(ctx, dataset));
  }

  private async evaluateBuild(ctx: RequestContext, dataset: DatasetRow): Promise<BuildVerification> {
    const row = await verificationCounts(ctx.manager, dataset);
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
    const rows = await this.lineage.parents(ctx.manager, ids.filter(isUuid));
    return ids.map((id) => rows.filter((r) => r.child === id));
  }

  /** The parents the caller may see (`Dataset.parents`). */
  async visibleParents(ctx: RequestContext, d: DatasetRow): Promise<DatasetRow[]> {
    return this.access.visible(ctx, await ctx.loaders.datasetParents.load(d.id), (r) => r.requestedBy);
  }

  /** Every parent, those the caller may not see as opaque ids (OpenLineage inputs). */
  async parentsOrIds(ctx: RequestContext, d: DatasetRow): Promise<(DatasetRow | string)[]> {
    return this.access.redact(ctx, await ctx.loaders.datasetParents.load(d.id), (r) => r.requestedBy);
  }

  /** Guards an export: the service never hands out data a person has objected to. */
  async exportable(ctx: RequestContext, id: string): Promise<DatasetRow> {
    const dataset = await this.get(ctx, id);
    if (dataset.status === DatasetStatus.SUPERSEDED) {
      throw new DomainError(
        ErrorCode.DATASET_SUPERSEDED,
        `Dataset ${dataset.name} v${dataset.version} is superseded by ${dataset.supersededBy}: export that version instead`,
        'datasetId',
      );
    }
    // Exports are bounded by their own budget (EXPORT_CONCURRENCY), not by the whole-corpus one.
    const [taint] = await this.evaluateTaint(ctx, [dataset.id]);
    if (taint.tainted) {
      throw new DomainError(
        ErrorCode.DATASET_TAINTED,
        `Dataset ${dataset.name} v${dataset.version} holds ${taint.taintedCount} member(s) that are no longer eligible: run datasetRemediate and export the new version`,
        'datasetId',
      );
    }
    return dataset;
  }

  /** A dataset card's facts; another ML engineer's neighbours are named by their id only. */
  card(ctx: RequestContext, d: DatasetRow): Promise<CardData> {
    return cardData(ctx, d, (owner) => this.access.sees(ctx, owner));
  }
}
