-- Lays the governance schema out over a Citus cluster (Citus 12, PostgreSQL 16). Run it on the coordinator with
-- `psql -v ON_ERROR_STOP=1`, after the workers have been added (deploy/citus/nodes.sql) and the service's migrations
-- applied (`aidg db migrate`); then `aidg db citus-check` compares the result with this plan. Running it again changes
-- nothing: each conversion is skipped when the table already has the kind it asks for.
--
-- This file is the plan that `aidg db citus-check` and test/citus.test.ts check the schema against: every table
-- appears in exactly one conversion call below, in an order where foreign-key targets come first.
--
-- Layout:
-- * Sharded by author, co-located: an author's content, its visibility history and its dataset memberships live on
--   the same shard, so eligibility, dataset builds, exports and footprints join them on the worker that holds them.
--   Their unique keys all include author_id (migration DistributableKeys).
-- * Reference tables (a copy on every node): the people, the consent ledger, policies, dataset versions, training runs,
--   reviews and lineage. Every eligibility evaluation joins content with its author and the author's ledger; as
--   reference tables they are joined locally on each worker, and their global keys (external ids, idempotency keys,
--   policy and dataset versions) stay enforced by the database. They are one to two orders of magnitude smaller than
--   content.
-- * The audit log and its checkpoints stay on the coordinator (Citus local tables): one hash chain appended under one
--   advisory lock.
--
-- Triggers: the ledger, policies, reviews and lineage keep their append-only triggers, which only raise an error and
-- read nothing, so they are safe on every placement. The knowledge triggers on users and content_items (migration
-- KnowledgeBySnapshot) only stamp the row being written (with fact_xid(): the coordinator's xid, migration FactXids)
-- and read no other table, so they too are safe on every placement and shard. The current-state triggers on the ledger
-- and the visibility history (migrations CurrentState, CurrentStateOnShards) update the shard beside the one they fired
-- on (the co-located content shard, this node's placement of users), never a distributed table. Citus converts tables with triggers only with
-- citus.enable_unsafe_triggers on; it is set for this session and for the database (DML on them needs it too).

\set ON_ERROR_STOP on
SET citus.enable_unsafe_triggers = on;
SELECT format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', current_database()) \gexec
SET citus.shard_count = 32;

-- Foreign keys are dropped while the tables change kind and re-created afterwards, from their own definitions: a key
-- between a plain table and a reference table would make Citus turn the plain table into a coordinator-local one
-- before it could be distributed.
CREATE TEMP TABLE governance_fks AS
  SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
  FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conparentid = 0
    -- not the keys of shards (the coordinator holds a copy of each reference table, as a shard named table_shardid)
    AND NOT EXISTS (SELECT FROM pg_dist_shard s WHERE s.logicalrelid::regclass::text || '_' || s.shardid = conrelid::regclass::text);
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, name) FROM governance_fks \gexec

-- What a table is now: distributed (hash), reference, local (on the coordinator, in Citus's metadata) or NULL (plain).
CREATE FUNCTION pg_temp.citus_kind(t regclass) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference' ELSE 'local' END
  FROM pg_dist_partition p WHERE p.logicalrelid = t $$;

-- Reference tables, targets of foreign keys first.
SELECT create_reference_table('users') WHERE pg_temp.citus_kind('users') IS DISTINCT FROM 'reference';
SELECT create_reference_table('user_attribute_history') WHERE pg_temp.citus_kind('user_attribute_history') IS DISTINCT FROM 'reference';
SELECT create_reference_table('policies') WHERE pg_temp.citus_kind('policies') IS DISTINCT FROM 'reference';
SELECT create_reference_table('consent_events') WHERE pg_temp.citus_kind('consent_events') IS DISTINCT FROM 'reference';
SELECT create_reference_table('datasets') WHERE pg_temp.citus_kind('datasets') IS DISTINCT FROM 'reference';
SELECT create_reference_table('training_runs') WHERE pg_temp.citus_kind('training_runs') IS DISTINCT FROM 'reference';
SELECT create_reference_table('training_run_reviews') WHERE pg_temp.citus_kind('training_run_reviews') IS DISTINCT FROM 'reference';
SELECT create_reference_table('lineage_edges') WHERE pg_temp.citus_kind('lineage_edges') IS DISTINCT FROM 'reference';

-- Sharded by author. dataset_members is partitioned by dataset version: Citus distributes the partitioned table and
-- every partition, and a partition attached later by a dataset build is distributed as it is attached.
SELECT create_distributed_table('content_items', 'author_id') WHERE pg_temp.citus_kind('content_items') IS DISTINCT FROM 'distributed';
SELECT create_distributed_table('visibility_changes', 'author_id', colocate_with => 'content_items') WHERE pg_temp.citus_kind('visibility_changes') IS DISTINCT FROM 'distributed';
SELECT create_distributed_table('content_label_history', 'author_id', colocate_with => 'content_items') WHERE pg_temp.citus_kind('content_label_history') IS DISTINCT FROM 'distributed';
SELECT create_distributed_table('dataset_members', 'author_id', colocate_with => 'content_items') WHERE pg_temp.citus_kind('dataset_members') IS DISTINCT FROM 'distributed';
-- A build's evaluated candidates, for the length of its transaction (migration BuildCandidates).
SELECT create_distributed_table('dataset_build_candidates', 'author_id', colocate_with => 'content_items') WHERE pg_temp.citus_kind('dataset_build_candidates') IS DISTINCT FROM 'distributed';

-- On the coordinator only.
SELECT citus_add_local_table_to_metadata('audit_events') WHERE pg_temp.citus_kind('audit_events') IS NULL;
SELECT citus_add_local_table_to_metadata('audit_checkpoints') WHERE pg_temp.citus_kind('audit_checkpoints') IS NULL;

-- The foreign keys again: distributed to co-located distributed or to reference, reference to reference.
SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, name, def) FROM governance_fks \gexec
