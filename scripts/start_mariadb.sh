#!/usr/bin/env bash
# Start Debian's MariaDB on loopback with a throwaway data directory, and create the kefu test
# user and database. Prints the URL to use as KEFU_TEST_MARIADB_URL. Installs nothing (.ci/run
# installs `mariadb-server`); needs root, like start_postgres.sh. Running it again while the
# server is up only re-checks the user and database.
#
# Server settings are the ones docs/deploy.md asks of a production server:
# - utf8mb4 with the binary collation utf8mb4_bin, so text compares and is unique exactly as on
#   PostgreSQL and SQLite ('A' ≠ 'a', 'é' ≠ 'e'); MariaDB's default *_ci collations would make
#   a unique username or external id clash where the other two databases accept both.
# - READ-COMMITTED, PostgreSQL's default: each statement sees what committed before it began.
#   Under MariaDB's default REPEATABLE READ a worker's `SELECT … FOR UPDATE SKIP LOCKED` loop
#   keeps its first snapshot and gap locks make concurrent inserts wait on each other.
set -euo pipefail
port="${KEFU_TEST_MARIADB_PORT:-3306}"
# The tests' data is throwaway: in memory where the machine has /dev/shm (each test migrates a
# fresh database, and DDL on disk costs an fsync per table).
shm=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
dir="${KEFU_TEST_MARIADB_DIR:-$shm/kefu-mariadb-$port}"
sock="$dir/mysqld.sock"

if ! mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1; then
  if [ ! -d "$dir/data/mysql" ]; then
    mkdir -p "$dir/data"
    chown -R mysql:mysql "$dir"
    mariadb-install-db --user=mysql --datadir="$dir/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$dir/install.log" 2>&1
  fi
  # No config file of the machine's: this server is the tests' alone.
  mariadbd --no-defaults --user=mysql --datadir="$dir/data" --socket="$sock" \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --bind-address=127.0.0.1 --port="$port" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --transaction-isolation=READ-COMMITTED \
    --max-connections=500 --innodb-buffer-pool-size=256M \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-flush-method=nosync \
    --skip-log-bin >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb-admin --socket="$sock" -uroot ping >/dev/null || {
    echo "MariaDB did not start; see $dir/error.log" >&2
    exit 1
  }
fi

# The user may create databases: parallel test workers (pytest-xdist) make one each,
# kefu_test_gw0, kefu_test_gw1, … (tests/conftest.py).
mariadb --socket="$sock" -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'kefu'@'127.0.0.1' IDENTIFIED BY 'kefu';
CREATE USER IF NOT EXISTS 'kefu'@'localhost' IDENTIFIED BY 'kefu';
GRANT ALL PRIVILEGES ON `kefu\_test%`.* TO 'kefu'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `kefu\_test%`.* TO 'kefu'@'localhost';
CREATE DATABASE IF NOT EXISTS kefu_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
SQL
echo "mysql://kefu:kefu@127.0.0.1:${port}/kefu_test"
