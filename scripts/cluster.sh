#!/usr/bin/env bash
# A kefu cluster on one machine, on loopback, for soaks and failure drills (docs/deploy.md):
# its own PostgreSQL instance, its own Redis, N web processes (`kefu serve --workers N`,
# KEFU_ROLE=web), `kefu run workers` (the background loops, leased), the SMS gateway
# (`kefu run sms`, when KEFU_SMS_LINKS names carrier links) and nginx in front
# (deploy/nginx/kefu.conf). Everything lives in $KEFU_CLUSTER_DIR and stops with `stop`.
#
#   scripts/cluster.sh start [N]     # N web processes (default 2); prints the URL
#   scripts/cluster.sh status        # what runs, by pid
#   scripts/cluster.sh stop          # stops all of it (SIGTERM, then SIGKILL after 15 s)
#   scripts/cluster.sh kill NAME     # kill -9 one part (web, workers, sms, redis, nginx): drills
#   scripts/cluster.sh restart redis # start Redis again (killed or not): a restart drill
#   scripts/cluster.sh engines       # PostgreSQL and Redis only (benchmarks start kefu themselves)
#   scripts/cluster.sh replica       # a streaming replica of PostgreSQL (pg_basebackup -R)
#   scripts/cluster.sh pg-restart M  # pg_ctl restart -m M (fast, immediate) of the primary
#   scripts/cluster.sh pg-stop M     # pg_ctl stop -m M of the primary (a failover drill)
#   scripts/cluster.sh promote       # pg_ctl promote of the replica (what Patroni would do)
#
# Ports (loopback): nginx $KEFU_CLUSTER_PORT (8080), kefu web $KEFU_CLUSTER_WEB_PORT (8001),
# PostgreSQL $KEFU_CLUSTER_PG_PORT (5440), its replica $KEFU_CLUSTER_PG_REPLICA_PORT (the next
# port), Redis $KEFU_CLUSTER_REDIS_PORT (6390). KEFU_CLUSTER_DATABASE_URL replaces kefu's
# database URL (the failover drill names primary and replica in one multi-host URL). Redis keeps
# an append-only file when KEFU_CLUSTER_REDIS_AOF=yes (drills with and without persistence).
# Other KEFU_* variables in the environment (channels' accounts, links) reach every process.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${KEFU_CLUSTER_DIR:-/tmp/kefu-cluster}
PORT=${KEFU_CLUSTER_PORT:-8080}
WEB_PORT=${KEFU_CLUSTER_WEB_PORT:-8001}
PG_PORT=${KEFU_CLUSTER_PG_PORT:-5440}
REDIS_PORT=${KEFU_CLUSTER_REDIS_PORT:-6390}
# Each web process opens up to ~40 connections (the app's pool and WeChat's, 10 + 10 each):
# room for 4 processes, the workers, the gateway and psql (docs/deploy.md, sizing).
PG_CONNECTIONS=${KEFU_CLUSTER_PG_CONNECTIONS:-300}
PG_REPLICA_PORT=${KEFU_CLUSTER_PG_REPLICA_PORT:-$((PG_PORT + 1))}
KEFU="$ROOT/.venv/bin/kefu"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
export KEFU_DATABASE_URL=${KEFU_CLUSTER_DATABASE_URL:-"postgresql://kefu:kefu@127.0.0.1:${PG_PORT}/kefu"}
export KEFU_BUS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
export KEFU_FORWARDED_ALLOW_IPS='["127.0.0.1"]'  # nginx, on loopback
export KEFU_SMS_GATEWAY_IN_WEB=false
export KEFU_SECRET_KEY=${KEFU_SECRET_KEY:-kefu-cluster-$(hostname)}

say() { echo "cluster: $*"; }

as_postgres() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

launch() {  # launch NAME command…: in a session of its own (its children stop with it)
  local name=$1
  shift
  setsid "$@" >"$DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$DIR/$name.pid"
  say "$name started (pid $!, log $DIR/$name.log)"
}

wait_for() {  # wait_for WHAT SECONDS command…
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  say "$what did not come up in ${seconds} s"
  return 1
}

start_postgres() {
  local data="$DIR/pg"
  if [ ! -f "$data/PG_VERSION" ]; then
    install -d -m 700 "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    echo kefu >"$DIR/pgpass" && chmod 644 "$DIR/pgpass"
    as_postgres "$PG_BIN/initdb -D $data -U kefu --pwfile=$DIR/pgpass -A scram-sha-256 >/dev/null"
  fi
  as_postgres "$PG_BIN/pg_ctl -D $data -l $data/postgres.log -w -o '-p $PG_PORT -k $data -c listen_addresses=127.0.0.1 -c max_connections=$PG_CONNECTIONS' start >/dev/null"
  PGPASSWORD=kefu "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U kefu -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='kefu'" | grep -q 1 \
    || PGPASSWORD=kefu "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U kefu kefu
  say "postgresql on 127.0.0.1:$PG_PORT (data $data)"
}

start_replica() {  # a hot standby streaming from the primary, as Patroni would keep one
  local data="$DIR/pg-replica"
  if [ ! -f "$data/PG_VERSION" ]; then
    install -d -m 700 "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    as_postgres "PGPASSWORD=kefu $PG_BIN/pg_basebackup -h 127.0.0.1 -p $PG_PORT -U kefu -D $data -R -X stream -c fast"
  fi
  as_postgres "$PG_BIN/pg_ctl -D $data -l $data/postgres.log -w -o '-p $PG_REPLICA_PORT -k $data -c listen_addresses=127.0.0.1 -c max_connections=$PG_CONNECTIONS' start >/dev/null"
  say "postgresql replica on 127.0.0.1:$PG_REPLICA_PORT (data $data)"
}

start_redis() {
  local persist=(--save '' --appendonly no)
  [ "${KEFU_CLUSTER_REDIS_AOF:-no}" = yes ] && persist=(--save '' --appendonly yes --dir "$DIR")
  launch redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 "${persist[@]}"
  wait_for redis 10 redis-cli -p "$REDIS_PORT" ping
}

start_nginx() {
  install -d "$DIR/nginx"
  sed -e "s/server 127.0.0.1:8000 /server 127.0.0.1:${WEB_PORT} /" \
      -e "s/listen 80;/listen 127.0.0.1:${PORT};/" \
      -e "s#set_real_ip_from 10.0.0.0/8;#set_real_ip_from 127.0.0.1;#" \
      deploy/nginx/kefu.conf >"$DIR/nginx/kefu.conf"
  cat >"$DIR/nginx/nginx.conf" <<EOF
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    include $DIR/nginx/kefu.conf;
}
EOF
  launch nginx "$NGINX" -c "$DIR/nginx/nginx.conf"
}

start() {
  local workers=${1:-2}
  install -d "$DIR"
  if alive web || alive workers; then say "already running (scripts/cluster.sh stop first)"; exit 1; fi
  start_postgres
  start_redis
  "$KEFU" db upgrade >"$DIR/migrate.log" 2>&1 || { cat "$DIR/migrate.log"; exit 1; }
  KEFU_ROLE=web launch web "$KEFU" serve --workers "$workers" --no-migrate --port "$WEB_PORT"
  KEFU_ROLE=workers launch workers "$KEFU" run workers --no-migrate
  if [ -n "${KEFU_SMS_LINKS:-}" ]; then
    launch sms "$KEFU" run sms
  else
    say "sms gateway not started (KEFU_SMS_LINKS names no carrier link)"
  fi
  start_nginx
  wait_for "kefu web" 180 curl -sf "http://127.0.0.1:$WEB_PORT/readyz"
  wait_for nginx 20 curl -sf "http://127.0.0.1:$PORT/healthz"
  say "up: http://127.0.0.1:$PORT/  ($workers web processes; database $KEFU_DATABASE_URL; bus $KEFU_BUS_URL)"
}

stop_one() {  # SIGTERM to the part's session, SIGKILL after 15 s
  local name=$1
  alive "$name" || { rm -f "$DIR/$name.pid"; return 0; }
  local pid
  pid=$(cat "$DIR/$name.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop in 15 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/$name.pid"
  say "$name stopped"
}

stop() {
  for name in nginx web sms workers redis; do stop_one "$name"; done
  for data in pg pg-replica; do
    if [ -f "$DIR/$data/postmaster.pid" ]; then
      as_postgres "$PG_BIN/pg_ctl -D $DIR/$data -m fast -w stop >/dev/null" && say "postgresql ($data) stopped"
    fi
  done
}

status() {
  for name in nginx web workers sms redis; do
    if alive "$name"; then say "$name running (pid $(cat "$DIR/$name.pid"))"; else say "$name not running"; fi
  done
  if [ -f "$DIR/pg/postmaster.pid" ]; then say "postgresql running (pid $(head -1 "$DIR/pg/postmaster.pid"))"; fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    say "workers lease held by: $(redis-cli -p "$REDIS_PORT" get kefu:lease:workers)"
  fi
}

case "${1:-}" in
  start) start "${2:-2}" ;;
  engines)
    install -d "$DIR"
    start_postgres
    start_redis
    say "database $KEFU_DATABASE_URL; bus $KEFU_BUS_URL"
    ;;
  replica) start_replica ;;
  pg-restart) as_postgres "$PG_BIN/pg_ctl -D $DIR/pg -m ${2:-fast} -w restart >/dev/null"; say "postgresql restarted (-m ${2:-fast})" ;;
  pg-stop) as_postgres "$PG_BIN/pg_ctl -D $DIR/pg -m ${2:-fast} -w stop >/dev/null"; say "postgresql stopped (-m ${2:-fast})" ;;
  promote) as_postgres "$PG_BIN/pg_ctl -D $DIR/pg-replica -w promote >/dev/null"; say "replica promoted" ;;
  stop) stop ;;
  status) status ;;
  kill)
    [ -n "${2:-}" ] && alive "$2" || { say "no running part named ${2:-?}"; exit 1; }
    kill -KILL "$(cat "$DIR/$2.pid")"
    say "$2 killed (-9)"
    ;;
  restart)
    [ "${2:-}" = redis ] || { say "restart: only redis (the other parts: stop and start)"; exit 1; }
    stop_one redis
    start_redis
    ;;
  *) sed -n '2,24p' "$0"; exit 2 ;;
esac
