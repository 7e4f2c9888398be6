import type { EntityManager } from 'typeorm';

/** The parameters of one statement being built, and `p`, which binds a value and returns its placeholder (`$n`). */
export function sqlParams(...initial: unknown[]): { params: unknown[]; p: (value: unknown) => string } {
  const params = [...initial];
  return { params, p: (value) => `$${params.push(value)}` };
}

/**
 * A transaction-scoped advisory lock named `name` (one of LOCK_NAMES, src/db/locks.ts): writers that take the same name
 * run one at a time until commit.
 */
export async function lockForTransaction(manager: EntityManager, name: string): Promise<void> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [name]);
}

/**
 * Runs one per-request statement with parallel query off (in a transaction of its own, or a savepoint of the caller's).
 * For a keyset page that reads a few hundred rows through an index, a parallel plan only adds the start of its workers
 * (about 6 ms of a 9 ms page of eligibleContent at scale s, 2 ms without); the planner picks one when it underestimates
 * how many rows pass the rules (1,714 estimated where tens of thousands do). Whole-corpus work keeps its parallel plans.
 */
export function serialPlan<T>(manager: EntityManager, statement: (m: EntityManager) => Promise<T>): Promise<T> {
  return manager.transaction(async (m) => {
    await m.query(`SET LOCAL max_parallel_workers_per_gather = 0`);
    return statement(m);
  });
}

/**
 * Runs one whole-corpus statement with the planner's cost of passing a row from a parallel worker to the leader set to
 * `cost` (PostgreSQL's default is 0.1), then puts back the value the transaction had for the rest of it (on failure the
 * transaction's rollback, or the caller's rollback to a savepoint, does). At the default, a build's evaluation of 10M
 * candidates, every one of which goes to the leader, is priced as more than what its parallel hash join saves, and is
 * planned serially: 18.1 s at scale l, 13.1 s in parallel at 0.01 (the same plan as before at m).
 */
export async function withParallelTupleCost<T>(manager: EntityManager, cost: number, statement: () => Promise<T>): Promise<T> {
  const [{ saved }] = await manager.query(`SELECT current_setting('parallel_tuple_cost') AS saved`);
  await manager.query(`SET LOCAL parallel_tuple_cost = ${Number(cost)}`);
  const result = await statement();
  // Nothing after a failed statement: the transaction is aborted, and a statement here would hide its error.
  await manager.query(`SET LOCAL parallel_tuple_cost = ${Number(saved)}`);
  return result;
}

/** Bounds every statement of the transaction to `ms` milliseconds (SET LOCAL statement_timeout). */
export async function statementTimeout(manager: EntityManager, ms: number): Promise<void> {
  await manager.query(`SET LOCAL statement_timeout = ${Math.round(ms)}`);
}
