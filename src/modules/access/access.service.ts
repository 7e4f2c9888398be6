import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';

/**
 * ML engineers' isolation (DESIGN.md §5), the one rule every path applies to datasets and training runs: a token that
 * carries ML_ENGINEER sees only the artifacts its own subject made (datasets it requested, runs it recorded), whatever
 * other roles it also carries; any other token sees them all. Lists filter with `ownerSql`, lookups and nested fields
 * with `sees`/`visible`, and lineage shows what the caller may not see as an opaque id only.
 */
export class AccessService {
  /** The subject the caller is confined to, or undefined when the caller may see every engineer's artifacts. */
  confinedTo(ctx: RequestContext): string | undefined {
    return hasRole(ctx.viewer, Role.ML_ENGINEER) ? ctx.viewer!.subject : undefined;
  }

  /** May the caller see an artifact made by `owner`? */
  sees(ctx: RequestContext, owner: string): boolean {
    const subject = this.confinedTo(ctx);
    return subject === undefined || owner === subject;
  }

  /** The artifacts among `rows` that the caller may see. */
  visible<T>(ctx: RequestContext, rows: T[], owner: (row: T) => string): T[] {
    return rows.filter((r) => this.sees(ctx, owner(r)));
  }

  /** `rows` in order, each the caller may not see reduced to its opaque id. */
  redact<T extends { id: string }>(ctx: RequestContext, rows: T[], owner: (row: T) => string): (T | string)[] {
    return rows.map((r) => (this.sees(ctx, owner(r)) ? r : r.id));
  }

  /** The same rule as a SQL condition on an owner column (bound through `p`). */
  ownerSql(ctx: RequestContext, column: string, p: (value: unknown) => string): string {
    const subject = this.confinedTo(ctx);
    return subject === undefined ? 'TRUE' : `${column} = ${p(subject)}`;
  }
}
