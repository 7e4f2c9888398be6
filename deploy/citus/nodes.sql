-- Registers the coordinator and the workers of the docker-compose `citus` profile (run on the coordinator; idempotent).
SELECT citus_set_coordinator_host('citus-coordinator', 5432);
SELECT citus_add_node(w, 5432) FROM unnest(ARRAY['citus-worker-1', 'citus-worker-2']) AS w
  WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodename = w);
SELECT nodename, nodeport, noderole FROM pg_dist_node ORDER BY nodeid;
