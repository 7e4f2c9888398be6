import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Training datasets (immutable versions), their members, training runs, reviews and lineage edges (DESIGN.md §4).
 * dataset_members is partitioned by dataset: each version is built into its own partition, loaded first and keyed
 * after, so that building, scanning or dropping one version never touches the others. It carries the author so that
 * a person's footprint is an index lookup, and so that Citus can co-locate members with content by author.
 */
export class Datasets1764460000002 implements MigrationInterface {
  name = 'Datasets1764460000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE datasets (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
        version         integer NOT NULL CHECK (version >= 1),
        policy_id       uuid NOT NULL REFERENCES policies(id),
        snapshot_at     timestamptz NOT NULL,
        requested_by    text NOT NULL,
        purpose         text CHECK (length(purpose) <= 2000),
        origin          text NOT NULL CHECK (origin IN ('REQUEST','DERIVE','REMEDIATE')),
        spec            jsonb NOT NULL,
        status          text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','SUPERSEDED')),
        superseded_by   uuid REFERENCES datasets(id),
        member_count    integer NOT NULL CHECK (member_count >= 0),
        candidate_count integer NOT NULL CHECK (candidate_count >= 0),
        exclusions      jsonb NOT NULL,
        manifest_digest text NOT NULL CHECK (manifest_digest ~ '^[0-9a-f]{64}$'),
        created_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (name, version)
      )`);
    await q.query(`
      CREATE TABLE dataset_members (
        dataset_id   uuid NOT NULL,
        item_id      uuid NOT NULL,
        author_id    uuid NOT NULL,
        content_hash text NOT NULL
      ) PARTITION BY LIST (dataset_id)`);
    await q.query(`
      CREATE TABLE training_runs (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        model_name    text NOT NULL CHECK (length(model_name) BETWEEN 1 AND 200),
        model_version text NOT NULL CHECK (length(model_version) BETWEEN 1 AND 100),
        description   text CHECK (length(description) <= 2000),
        recorded_by   text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (model_name, model_version)
      )`);
    await q.query(`
      CREATE TABLE training_run_reviews (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id      uuid NOT NULL REFERENCES training_runs(id),
        decision    text NOT NULL CHECK (decision IN ('RETRAIN_REQUIRED','RISK_ACCEPTED')),
        reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        tainted_members integer NOT NULL CHECK (tainted_members >= 0),
        reviewer    text NOT NULL,
        reviewed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX training_run_reviews_run_idx ON training_run_reviews (run_id, reviewed_at DESC, id DESC)`);
    // Upstream -> downstream. A derived or remediated dataset points back at its sources; a run at what it trained on.
    await q.query(`
      CREATE TABLE lineage_edges (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        upstream_id    uuid NOT NULL,
        downstream_id  uuid NOT NULL,
        type           text NOT NULL CHECK (type IN ('DERIVED_FROM','TRAINED_ON','REMEDIATED_FROM')),
        transformation jsonb,
        created_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (upstream_id, downstream_id, type),
        CHECK (upstream_id <> downstream_id)
      )`);
    await q.query(`CREATE INDEX lineage_edges_downstream_idx ON lineage_edges (downstream_id, upstream_id)`);
    for (const table of ['training_run_reviews', 'lineage_edges']) {
      await q.query(
        `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION reject_modification()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE lineage_edges`);
    await q.query(`DROP TABLE training_run_reviews`);
    await q.query(`DROP TABLE training_runs`);
    await q.query(`DROP TABLE dataset_members`);
    await q.query(`DROP TABLE datasets`);
  }
}
