-- Lays the governance schema out over a Citus cluster (Citus 12, PostgreSQL 16). Run it on the coordinator with
-- psql, after the service's migrations (`aidg db migrate`) and after the workers have been added
-- (deploy/citus/nodes.sql). Every statement checks Citus's catalog first, so running it again changes nothing.
--
-- This file is also the plan that `aidg db citus-check` and test/citus.test.ts check the schema against: every table
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
--   content. Their append-only triggers stay (Citus supports triggers on reference and local tables).
-- * The audit log stays on the coordinator (a Citus local table): one hash chain appended under one advisory lock.
--
-- Triggers on distributed tables would need citus.enable_unsafe_triggers; the distributed tables have none.

SET citus.shard_count = 32;

-- Reference tables, targets of foreign keys first.
SELECT create_reference_table('users') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'users'::regclass);
SELECT create_reference_table('policies') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'policies'::regclass);
SELECT create_reference_table('consent_events') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'consent_events'::regclass);
SELECT create_reference_table('datasets') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'datasets'::regclass);
SELECT create_reference_table('training_runs') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'training_runs'::regclass);
SELECT create_reference_table('training_run_reviews') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'training_run_reviews'::regclass);
SELECT create_reference_table('lineage_edges') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'lineage_edges'::regclass);

-- Sharded by author. dataset_members is partitioned by dataset version: Citus distributes the partitioned table and
-- every partition, and a partition created later by a dataset build is distributed as it is attached.
SELECT create_distributed_table('content_items', 'author_id') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'content_items'::regclass);
SELECT create_distributed_table('visibility_changes', 'author_id', colocate_with => 'content_items') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'visibility_changes'::regclass);
SELECT create_distributed_table('dataset_members', 'author_id', colocate_with => 'content_items') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'dataset_members'::regclass);

-- On the coordinator only.
SELECT citus_add_local_table_to_metadata('audit_events') WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'audit_events'::regclass);
