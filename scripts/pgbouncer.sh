#!/usr/bin/env bash
# PgBouncer (Debian's package) in transaction mode in front of this machine's PostgreSQL, on a
# port of its own: what tests/config/test_pgbouncer.py and `bench.hot_path --pgbouncer` go
# through (`.ci/run` starts one). Every database of the cluster is reachable by its name.
#
#   scripts/pgbouncer.sh start [PORT]   # default 6432; pool of 4 server connections per database
#   scripts/pgbouncer.sh stop [PORT]
#
# PRIMARY_PORT (5432) is PostgreSQL's port. Run as root, PgBouncer runs as the postgres user.
set -euo pipefail

ACTION="${1:-}"
PORT="${2:-6432}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
DIR="${PGBOUNCER_DIR:-/tmp/warmup-pgbouncer-${PORT}}"
POOL_SIZE="${PGBOUNCER_POOL_SIZE:-4}"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${ACTION}" in
start)
    if ! command -v pgbouncer >/dev/null 2>&1; then
        echo "pgbouncer: not installed (apt-get install pgbouncer)" >&2
        exit 1
    fi
    if pg_isready -h 127.0.0.1 -p "${PORT}" -q; then
        echo "pgbouncer: something already answers on port ${PORT}" >&2
        exit 1
    fi
    rm -rf "${DIR}"
    mkdir -p "${DIR}"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "${DIR}"
    as_postgres tee "${DIR}/userlist.txt" >/dev/null <<USERS
"postgres" ""
USERS
    # The settings the README's production section shows. `options` (the app's lock and
    # statement timeouts) is not passed on by PgBouncer: with DATABASE_POOLED=1 the app does
    # not send it, and the timeouts are set on the database instead.
    as_postgres tee "${DIR}/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=${PRIMARY_PORT}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT}
unix_socket_dir = ${DIR}
auth_type = trust
auth_file = ${DIR}/userlist.txt
pool_mode = transaction
default_pool_size = ${POOL_SIZE}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = ${DIR}/pgbouncer.log
pidfile = ${DIR}/pgbouncer.pid
admin_users = postgres
INI
    as_postgres pgbouncer -d "${DIR}/pgbouncer.ini"
    for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p "${PORT}" -q && break; sleep 0.1; done
    pg_isready -h 127.0.0.1 -p "${PORT}" -q
    echo "pgbouncer $(pgbouncer --version | head -1 | cut -d' ' -f2): transaction mode on port ${PORT} (${DIR})"
    ;;
stop)
    if [ -f "${DIR}/pgbouncer.pid" ]; then
        kill "$(cat "${DIR}/pgbouncer.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [ -f "${DIR}/pgbouncer.pid" ] || break; sleep 0.1; done
    fi
    rm -rf "${DIR}"
    ;;
*)
    echo "usage: scripts/pgbouncer.sh start|stop [PORT]" >&2
    exit 2
    ;;
esac
