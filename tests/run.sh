#!/usr/bin/env bash
# Install the project and run the whole test suite on SQLite and PostgreSQL, plus ruff.
# Starts a throwaway PostgreSQL (as the postgres user when run as root) unless
# COALITION_TEST_POSTGRES_URL already points at one. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

if [ -f tests/js/package.json ] && command -v npm >/dev/null 2>&1; then
  (cd tests/js && npm install --silent --no-audit --no-fund)
fi

find_pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if [ -z "${COALITION_TEST_POSTGRES_URL:-}" ]; then
  if ! PG_BIN=$(find_pg_bin); then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing PostgreSQL from Debian's packages..."
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      PG_BIN=$(find_pg_bin)
    else
      echo "PostgreSQL is not installed: install Debian's 'postgresql' package (or set COALITION_TEST_POSTGRES_URL)." >&2
      exit 2
    fi
  fi
  PG_DIR=$(mktemp -d /tmp/coalition-pg.XXXXXX)
  PG_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  cleanup() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
  trap cleanup EXIT
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" >/dev/null
  export COALITION_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "Throwaway PostgreSQL on port $PG_PORT"
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
