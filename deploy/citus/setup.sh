#!/bin/sh
# Lays the service's schema out on a Citus cluster whose workers are registered (deploy/citus/nodes.sql for the compose
# profile, shared/citus/cluster.sh for CI): applies the migrations, checks the schema against Citus's rules,
# distributes the tables (distribute.sql) and checks the resulting layout against the plan. Every step is idempotent.
# The compose profile `citus`, .ci/run and the tests' fresh Citus databases all run this one script.
#   DATABASE_URL=postgresql://...coordinator.../db deploy/citus/setup.sh   (after `npm run build`)
set -eu
: "${DATABASE_URL:?set DATABASE_URL to the coordinator's database}"
cd "$(dirname "$0")/../.."
node dist/src/cli/index.js db migrate
node dist/src/cli/index.js db citus-check --rules-only
psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f deploy/citus/distribute.sql
node dist/src/cli/index.js db citus-check
