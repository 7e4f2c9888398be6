import type { EntityManager } from 'typeorm';

/** The parameters of one statement being built, and `p`, which binds a value and returns its placeholder (`$n`). */
export function sqlParams(...initial: unknown[]): { params: unknown[]; p: (value: unknown) => string } {
  const params = [...initial];
  return { params, p: (value) => `$${params.push(value)}` };
}

/** A transaction-scoped advisory lock named `name`: writers that take the same name run one at a time until commit. */
export async function lockForTransaction(manager: EntityManager, name: string): Promise<void> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [name]);
}
