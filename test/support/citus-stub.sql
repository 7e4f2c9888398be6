-- A stand-in for Citus's catalog and conversion functions, in its own schema (put it first on search_path): each call
-- is recorded, and pg_dist_partition is filled the way Citus fills it (partmethod 'h' for hash distribution, repmodel
-- 't' for reference tables). It lets the test run deploy/citus/distribute.sql as written on a plain PostgreSQL.
CREATE SCHEMA citus_stub;
CREATE TABLE citus_stub.pg_dist_partition (logicalrelid regclass, partmethod "char", partkey text, colocationid int, repmodel "char");
CREATE TABLE citus_stub.pg_dist_shard (logicalrelid regclass, shardid bigint, shardminvalue text, shardmaxvalue text); -- no shards: a stand-in has none
CREATE TABLE citus_stub.calls (fn text, tbl text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION citus_stub.create_reference_table(t regclass) RETURNS void LANGUAGE sql AS $$
  INSERT INTO citus_stub.calls (fn, tbl) VALUES ('create_reference_table', t::text);
  DELETE FROM citus_stub.pg_dist_partition WHERE logicalrelid = t;
  INSERT INTO citus_stub.pg_dist_partition VALUES (t, 'n', NULL, 1, 't') $$;
CREATE FUNCTION citus_stub.create_distributed_table(t regclass, col text, colocate_with text DEFAULT 'default') RETURNS void LANGUAGE sql AS $$
  INSERT INTO citus_stub.calls (fn, tbl) VALUES ('create_distributed_table', t::text);
  DELETE FROM citus_stub.pg_dist_partition WHERE logicalrelid = t;
  INSERT INTO citus_stub.pg_dist_partition
    SELECT t, 'h', '{VAR :varno 1 :varattno ' || attnum || ' :vartype 2950}', 2, 's' FROM pg_attribute WHERE attrelid = t AND attname = col $$;
CREATE FUNCTION citus_stub.citus_add_local_table_to_metadata(t regclass) RETURNS void LANGUAGE sql AS $$
  INSERT INTO citus_stub.calls (fn, tbl) VALUES ('citus_add_local_table_to_metadata', t::text);
  INSERT INTO citus_stub.pg_dist_partition VALUES (t, 'n', NULL, 0, 's') $$;
