#!/usr/bin/env bash
# Load benchmarks with the real binary (make bench-load): for SQLite and for
# PostgreSQL, start tenantd, drive signups with `tenantd bench signup` (pool
# and silo plans), and on PostgreSQL hold 10,000 subscriptions with
# `tenantd bench subscriptions`. Figures go to stdout; progress to stderr.
#
# Environment: RATE (default 20), DURATION (default 30s), SUBSCRIPTIONS
# (default 10000), PGURL (server for a scratch database, default
# postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-20}"
DURATION="${DURATION:-30s}"
SUBSCRIPTIONS="${SUBSCRIPTIONS:-10000}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
TOKEN="tda_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BIN=./bin/tenantd
go build -o "$BIN" ./cmd/tenantd

work=$(mktemp -d)
pid=""
db="tenantd_bench_$$"
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # start <name> [env...]
  local name=$1; shift
  local port; port=$(free_port)
  env TENANTD_ADDR="127.0.0.1:$port" TENANTD_DATA_DIR="$work/$name" TENANTD_ADMIN_TOKEN="$TOKEN" \
    TENANTD_LOG_LEVEL=warn "$@" "$BIN" serve >"$work/$name.log" 2>&1 &
  pid=$!
  URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "tenantd ($name) did not start:"; cat "$work/$name.log"; exit 1
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

echo "== SQLite: signups at ${RATE}/s for ${DURATION}"
start sqlite
"$BIN" bench signup --url "$URL" --rate "$RATE" --duration "$DURATION" --plans starter,pro
stop

echo "== PostgreSQL: signups at ${RATE}/s for ${DURATION}"
# Two roles, as in production: the owner migrates, tenantd runs as an
# application role that row-level security binds.
psql "$PGURL" -qc "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantd_app') THEN CREATE ROLE tenantd_app LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END \$\$"
psql "$PGURL" -qc "CREATE DATABASE $db"
owner="${PGURL%/*}/$db"
app=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(netloc="tenantd_app@" + p.netloc.split("@")[-1])))' "$owner")
# One admin token holds every subscription of the run: raise its cap
# (TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN, default 1000) above them. The load
# tool puts 100 on each WebSocket, the default per-connection cap.
start postgres DATABASE_URL="$app" TENANTD_OWNER_DATABASE_URL="$owner" \
  TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN="$((SUBSCRIPTIONS + 1000))"
"$BIN" bench signup --url "$URL" --rate "$RATE" --duration "$DURATION" --plans starter,pro

echo "== PostgreSQL: ${SUBSCRIPTIONS} idle subscriptions, event delivery"
"$BIN" bench subscriptions --url "$URL" --token "$TOKEN" --subscriptions "$SUBSCRIPTIONS"
stop
