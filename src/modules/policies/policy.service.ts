import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { checkString, MAX_FREE_TEXT } from '../../common/validate';
import { EU27, ISO_COUNTRIES } from '../../common/iso-countries';
import { inKeyOrder, isUuid } from '../../common/ids';
import { lockForTransaction } from '../../common/sql';
import { PolicyMode } from '../../common/enums';
import type { MutationOutcome } from '../audit/audited-mutation';
import { Policy, PolicyPublishInput, PolicyPublishPayload } from './policy.types';

const COLUMNS = `id, key, version, purpose, legal_basis AS "legalBasis", description, minimum_age AS "minimumAge", regions, platforms, kinds,
  window_start AS "windowStart", window_end AS "windowEnd", excluded_labels AS "excludedLabels", mode, created_at AS "createdAt", created_by AS "createdBy"`;
/** The latest version of a key ($1), whatever its mode. */
export const LATEST_POLICY_SQL = `SELECT ${COLUMNS} FROM policies WHERE key = $1 ORDER BY version DESC LIMIT 1`;

/** The lowest minimum age an ENFORCE version may set (DESIGN.md §3; also a database CHECK). */
export const ADULT = 18;

/** Eligibility policies: immutable versions, looked up by key (latest) or key and version. */
export class PolicyService {
  /** The policy version asked for, or the latest version of the key; NOT_FOUND otherwise. */
  async get(ctx: RequestContext, key: string, version?: number | null): Promise<Policy> {
    const rows: Policy[] = version
      ? await ctx.manager.query(`SELECT ${COLUMNS} FROM policies WHERE key = $1 AND version = $2`, [key, version])
      : await ctx.manager.query(LATEST_POLICY_SQL, [key]);
    if (!rows[0]) throw new DomainError(ErrorCode.NOT_FOUND, `No policy "${shown(key)}"${version ? ` version ${version}` : ''}`, 'policyKey');
    return rows[0];
  }

  /**
   * The latest ENFORCE version of a key (undefined when it has none): what every path that hands out content uses, so
   * that publishing a DRY_RUN version never changes what anyone receives (DESIGN.md §3).
   */
  async latestEnforced(ctx: RequestContext, key: string): Promise<Policy | undefined> {
    const rows: Policy[] = await ctx.manager.query(
      `SELECT ${COLUMNS} FROM policies WHERE key = $1 AND mode = 'ENFORCE' ORDER BY version DESC LIMIT 1`,
      [key],
    );
    return rows[0];
  }

  /** Policy versions by id, in the order asked; one statement whatever the count. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Policy | undefined)[]> {
    const rows: Policy[] = await ctx.manager.query(`SELECT ${COLUMNS} FROM policies WHERE id = ANY($1::uuid[])`, [ids.filter(isUuid)]);
    return inKeyOrder(ids, rows);
  }

  /** Every version of every policy, newest first within a key. */
  async list(ctx: RequestContext, latestOnly: boolean): Promise<Policy[]> {
    const sql = latestOnly
      ? `SELECT DISTINCT ON (key) ${COLUMNS} FROM policies ORDER BY key, version DESC`
      : `SELECT ${COLUMNS} FROM policies ORDER BY key, version DESC`;
    return ctx.manager.query(sql);
  }

  /** Publishes a new immutable version (previous versions never change). */
  async publish(ctx: RequestContext, input: PolicyPublishInput): Promise<MutationOutcome<PolicyPublishPayload>> {
    const problems = new Problems();
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.key)) problems.add('key', 'key must be lowercase letters, digits and dashes (1-63 characters)');
    if (!input.legalBasis?.trim() || input.legalBasis.length > 500) problems.add('legalBasis', 'legalBasis is required (at most 500 characters)');
    checkString(problems, 'description', input.description, { max: MAX_FREE_TEXT });
    if (!Number.isInteger(input.minimumAge) || input.minimumAge < 0 || input.minimumAge > 120) problems.add('minimumAge', 'minimumAge must be 0-120');
    else if (input.mode === PolicyMode.ENFORCE && input.minimumAge < ADULT) {
      problems.add('minimumAge', `an ENFORCE version needs minimumAge ${ADULT} or more (a DRY_RUN version may go lower, for what-if reports)`);
    }
    const regions = input.regions ?? EU27;
    if (regions.length === 0) problems.add('regions', 'regions must not be empty');
    regions.forEach((r, i) => {
      if (!ISO_COUNTRIES.has(r)) problems.add(`regions[${i}]`, `"${shown(r)}" is not an ISO 3166-1 alpha-2 country code`);
    });
    if (input.platforms.length === 0) problems.add('platforms', 'platforms must not be empty');
    if (input.kinds.length === 0) problems.add('kinds', 'kinds must not be empty');
    if (input.windowStart && input.windowEnd && input.windowStart >= input.windowEnd) problems.add('windowEnd', 'windowEnd must be after windowStart');
    input.excludedLabels.forEach((l, i) => {
      if (!/^[A-Z0-9_]{1,64}$/.test(l)) problems.add(`excludedLabels[${i}]`, 'labels are UPPER_SNAKE_CASE, at most 64 characters');
    });
    problems.throwIfAny();
    // Serialise publishers of one key so that version numbers are dense and never collide.
    await lockForTransaction(ctx.manager, `policy:${input.key}`);
    const [row] = await ctx.manager.query(
      `INSERT INTO policies (key, version, purpose, legal_basis, description, minimum_age, regions, platforms, kinds, window_start, window_end, excluded_labels, mode, created_by)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM policies WHERE key = $1
       RETURNING id`,
      [input.key, input.purpose, input.legalBasis.trim(), input.description ?? null, input.minimumAge, [...new Set(regions)], [...new Set(input.platforms)],
        [...new Set(input.kinds)], input.windowStart ?? null, input.windowEnd ?? null, [...new Set(input.excludedLabels)], input.mode, ctx.viewer!.subject],
    );
    const [policy] = (await this.byIds(ctx, [row.id])) as Policy[];
    return { payload: { policy, userErrors: [] }, targetIds: [policy.id] };
  }
}
