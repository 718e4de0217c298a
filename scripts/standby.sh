#!/usr/bin/env bash
# A hot standby of this machine's PostgreSQL cluster on another port: the read replica the
# tests of config/replica.py read (`.ci/run` starts one), and a developer's replica
# (`make replica`, then DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:5433/<db>).
#
#   scripts/standby.sh start [PORT]   # pg_basebackup -R of the primary, started as a standby
#   scripts/standby.sh stop [PORT]    # stopped, its directory removed
#
# PRIMARY_PORT (5432) is the primary's port; the standby streams from it and holds a copy of
# every database in that cluster. Run as root, the server runs as the postgres user.
set -euo pipefail

ACTION="${1:-}"
PORT="${2:-5433}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
DIR="${STANDBY_DIR:-/tmp/warmup-standby-${PORT}}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${ACTION}" in
start)
    if pg_isready -h 127.0.0.1 -p "${PORT}" -q; then
        echo "standby: something already answers on port ${PORT}" >&2
        exit 1
    fi
    # The primary must let a standby stream from it: a replication line in its pg_hba.conf
    # (Debian's cluster on PRIMARY_PORT; trust from this host only, as its other lines).
    HBA="$(psql -h 127.0.0.1 -p "${PRIMARY_PORT}" -U postgres -Atc 'SHOW hba_file')"
    if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "${HBA}"; then
        echo "host replication all 127.0.0.1/32 trust" >>"${HBA}"
        psql -h 127.0.0.1 -p "${PRIMARY_PORT}" -U postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null
    fi
    rm -rf "${DIR}"
    mkdir -p "${DIR}"
    chmod 700 "${DIR}"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "${DIR}"
    as_postgres pg_basebackup -h 127.0.0.1 -p "${PRIMARY_PORT}" -U postgres -D "${DIR}" \
        -R -X stream --checkpoint=fast
    # Debian keeps a cluster's configuration outside its data directory: the copy gets its own
    # (a standby may not allow fewer connections than its primary).
    as_postgres tee "${DIR}/postgresql.conf" >/dev/null <<CONF
hot_standby = on
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = '${DIR}'
max_connections = $(psql -h 127.0.0.1 -p "${PRIMARY_PORT}" -U postgres -Atc 'SHOW max_connections')
CONF
    as_postgres tee "${DIR}/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
    as_postgres "${BIN}/pg_ctl" -D "${DIR}" -l "${DIR}/server.log" -w -t 60 start >/dev/null
    echo "standby: streaming from port ${PRIMARY_PORT}, answering on port ${PORT} (${DIR})"
    ;;
stop)
    if [ -d "${DIR}" ]; then
        as_postgres "${BIN}/pg_ctl" -D "${DIR}" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "${DIR}"
    fi
    ;;
*)
    echo "usage: scripts/standby.sh start|stop [PORT]" >&2
    exit 2
    ;;
esac
