#!/usr/bin/env bash
# Starts a PostgreSQL server on loopback for the tests that run against a real
# server (FORLOP_TEST_DATABASE_URL), installing Debian's package if needed.
# Idempotent: running it twice reuses the running cluster. Source it.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "== installing PostgreSQL (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || sudo -n sh -c 'apt-get update -qq && apt-get install -y -qq postgresql >/dev/null'
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version *main"; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | grep -q "^$version *main.*online"; then
  pg_ctlcluster "$version" main start
fi
su postgres -c "psql -q -c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'forlop') THEN CREATE ROLE forlop LOGIN PASSWORD 'forlop'; END IF; END \\\$\\\$;\""
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'forlop_test'\" | grep -q 1 || createdb -O forlop forlop_test"
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'forlop_stack_test'\" | grep -q 1 || createdb -O forlop forlop_stack_test"
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'forlop_recovery_test'\" | grep -q 1 || createdb -O forlop forlop_recovery_test"
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'forlop_access_test'\" | grep -q 1 || createdb -O forlop forlop_access_test"
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'forlop_router_test'\" | grep -q 1 || createdb -O forlop forlop_router_test"
export FORLOP_TEST_DATABASE_URL="postgres://forlop:forlop@127.0.0.1:5432/forlop_test"
# A database of its own for the test that runs forlop serve and forlop worker as separate processes.
export FORLOP_TEST_STACK_DATABASE_URL="postgres://forlop:forlop@127.0.0.1:5432/forlop_stack_test"
# And one for the kill-and-restart suite (test/recovery), which runs beside it.
export FORLOP_TEST_RECOVERY_DATABASE_URL="postgres://forlop:forlop@127.0.0.1:5432/forlop_recovery_test"
# And one for the FHIR API's family-cache tests (test/security/fhir-api), beside the store's own.
export FORLOP_TEST_ACCESS_DATABASE_URL="postgres://forlop:forlop@127.0.0.1:5432/forlop_access_test"
# And one for the event router's concurrent-writers test (test/events/feed-gaps).
export FORLOP_TEST_ROUTER_DATABASE_URL="postgres://forlop:forlop@127.0.0.1:5432/forlop_router_test"
echo "== PostgreSQL $version on 127.0.0.1:5432 (FORLOP_TEST_DATABASE_URL set)"
