import type { RequestContext } from '../context';
import { RateLimitedError } from './errors';

/** What a refused caller is told to wait before trying again, in seconds. */
export const CORPUS_RETRY_AFTER_SECONDS = 2;

const ALL = '*';

/** A request's share of the gate: the slot it holds, and its evaluations, run one after another. */
interface RequestShare {
  release: () => void;
  pending: number;
  tail: Promise<unknown>;
}

/**
 * Bounds how many whole-corpus evaluations (eligibility reports and counts, taint, build verification, lineage,
 * footprints) run at once: a request running any holds one slot of each of its caller's roles (at most
 * `corpusConcurrencyPerRole` each) and of the service (at most `corpusConcurrency`). A request that finds a slot taken
 * is refused at once with RATE_LIMITED (HTTP 429, Retry-After) rather than queued: a queue would take the connections
 * every other request needs. Within the request that holds the slot its evaluations run one after another (aliases,
 * a page of datasets each verifying its build), on one connection at a time; the document cost limit bounds how many
 * there are. Work inside a transaction (a mutation) runs on the connection the transaction holds already and is not
 * counted.
 */
export class CorpusGate {
  private readonly running = new Map<string, number>();
  /** Keyed by the request's loaders: built once per request and shared by every copy Apollo makes of its context. */
  private readonly requests = new WeakMap<object, RequestShare>();

  async run<T>(ctx: RequestContext, work: () => Promise<T>): Promise<T> {
    if (ctx.manager.queryRunner?.isTransactionActive) return work();
    let share = this.requests.get(ctx.loaders);
    if (!share) {
      share = { release: this.take(ctx), pending: 0, tail: Promise.resolve() };
      this.requests.set(ctx.loaders, share);
    }
    const mine = share;
    mine.pending++;
    const result = mine.tail.then(work);
    mine.tail = result.catch(() => undefined);
    try {
      return await result;
    } finally {
      if (--mine.pending === 0) {
        this.requests.delete(ctx.loaders);
        mine.release();
      }
    }
  }

  /** Takes a slot for the caller (every one of its roles, and the service's), or refuses. */
  private take(ctx: RequestContext): () => void {
    const { corpusConcurrency, corpusConcurrencyPerRole } = ctx.config;
    const roles: string[] = ctx.viewer?.roles.length ? [...new Set(ctx.viewer.roles)] : ['(none)'];
    const keys = [ALL, ...roles];
    const full = keys.find((k) => (this.running.get(k) ?? 0) >= (k === ALL ? corpusConcurrency : corpusConcurrencyPerRole));
    if (full) {
      const who =
        full === ALL
          ? `${corpusConcurrency} requests are running whole-corpus evaluations`
          : `${corpusConcurrencyPerRole} requests of role ${full} are running whole-corpus evaluations`;
      throw new RateLimitedError(`${who}; retry in ${CORPUS_RETRY_AFTER_SECONDS} s`, CORPUS_RETRY_AFTER_SECONDS);
    }
    for (const k of keys) this.running.set(k, (this.running.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) this.running.set(k, this.running.get(k)! - 1);
    };
  }

  /** Requests holding a slot now, in all (for tests and metrics). */
  get active(): number {
    return this.running.get(ALL) ?? 0;
  }
}
