#!/usr/bin/env bash
# Start Debian's PostgreSQL on loopback and create the kefu test role and database.
# Prints the URL to use as KEFU_TEST_DATABASE_URL. Needs root (CI and the dev machines are).
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -q && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='kefu'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE kefu LOGIN PASSWORD 'kefu'\""
# Parallel test workers (pytest-xdist) create a database each: kefu_test_gw0, kefu_test_gw1, …
su postgres -c "psql -qc \"ALTER ROLE kefu CREATEDB\"" >/dev/null
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='kefu_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O kefu kefu_test"
echo "postgresql://kefu:kefu@127.0.0.1:5432/kefu_test"
