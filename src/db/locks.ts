/**
 * Every PostgreSQL advisory lock the service takes, in one place: a new lock picks a key that no other writer uses, and
 * each entry says what it orders. The values are part of the running system (two versions of the service side by side
 * must take the same keys): never change one.
 */

/** Locks on a fixed bigint key (`pg_advisory_xact_lock(key)`, `pg_advisory_lock(key)`). */
export const LOCK_KEYS = {
  /**
   * Audit appenders, one at a time until commit, so that the hash chain stays linear; a checkpoint takes it to read a
   * settled head (no event in flight below it). src/modules/audit/audit.store.ts.
   */
  AUDIT_APPEND: 8211311,
  /**
   * Citus only: fact writers hold it shared until their commit has reached every worker; a build's knowledge snapshot
   * holds it exclusively while it reads the facts (`withFactsSettled`). src/db/citus.ts.
   */
  FACTS: 7_023_145_611,
} as const;

/**
 * Locks named by a string, taken with `lockForTransaction` (src/common/sql.ts: `pg_advisory_xact_lock(hashtext(name))`),
 * held until commit: writers that take the same name run one at a time.
 */
export const LOCK_NAMES = {
  /** Concurrent first starts on one empty database (two replicas): only one loads the demo data. */
  DEMO_SEED: 'demo-seed',
  /** Writers of content (ingest, the synthetic seed): an external id names one item of one author. */
  CONTENT_IDENTITY: 'content-identity',
  /** Publishers of one policy key: version numbers stay dense and never collide. */
  policy: (key: string) => `policy:${key}`,
  /** Builders of one dataset name: version numbers stay dense and never collide. */
  dataset: (name: string) => `dataset:${name}`,
  /** Consent writers of one person: the withdrawal check and the ledger append see the same ledger. */
  consent: (userId: string) => `consent:${userId}`,
} as const;
