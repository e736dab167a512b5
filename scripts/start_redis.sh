#!/usr/bin/env bash
# Start Debian's Redis on loopback for the tests (no persistence: the tests make their own data).
# Prints the URL to use as KEFU_TEST_REDIS_URL. Each pytest-xdist worker takes its own database
# number (tests/conftest.py), so parallel workers never see each other's streams.
set -euo pipefail
port="${KEFU_TEST_REDIS_PORT:-6379}"
if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --logfile /tmp/kefu-redis-test.log >/dev/null
  for _ in $(seq 1 30); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
echo "redis://127.0.0.1:${port}/0"
