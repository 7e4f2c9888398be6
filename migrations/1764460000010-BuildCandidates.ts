import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a dataset build on Citus keeps its evaluated candidates for the length of its transaction.
 *
 * On one PostgreSQL a build is one statement: candidates and their reasons in a materialised CTE, members inserted
 * from it, exclusions counted from it. Citus cannot push such a statement down (it gathers the CTE on the coordinator).
 * There the build writes the candidates with their reasons here (distributed by author, co-located with content, so
 * each worker writes its own), inserts the members from them and counts the exclusions from them: three statements
 * that each run on the workers and all read the same evaluation. The rows are deleted before the build commits.
 * Unlogged: nothing here outlives a transaction, so nothing here needs the WAL.
 */
export class BuildCandidates1764460000010 implements MigrationInterface {
  name = 'BuildCandidates1764460000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE UNLOGGED TABLE dataset_build_candidates (
      build_id uuid NOT NULL,
      item_id uuid NOT NULL,
      author_id uuid NOT NULL,
      content_hash text NOT NULL,
      reasons text[] NOT NULL,
      PRIMARY KEY (build_id, item_id, author_id))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dataset_build_candidates`);
  }
}
