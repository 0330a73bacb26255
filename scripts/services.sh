#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis the tests talk to are answering on 127.0.0.1:
# installs them from Debian's packages when absent, starts them when stopped, and sees that
# user postgres gets in over TCP without a password (trust) and that a database named `test` exists.
# Safe to run again and again: a service that already answers is left as it is.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=test
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
# Seconds to wait for a just-started server to answer; a cold PostgreSQL start is a few seconds.
WAIT_SECONDS=60

log() { echo "services.sh: $*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
else
    SUDO=(sudo)
fi

apt_updated=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" -eq 0 ]; then
        "${SUDO[@]}" apt-get update -q
        apt_updated=1
    fi
    "${SUDO[@]}" apt-get install -y -q "$@"
}

# Runs a command as the postgres OS user (peer authentication over the local socket).
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres "$@"
    fi
}

wait_for() {
    local what="$1"
    shift
    local i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    log "$what did not answer within ${WAIT_SECONDS}s"
    return 1
}

# ---------------------------------------------------------------- PostgreSQL

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

pg_trusts_postgres() {
    psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres() {
    local fresh=0
    if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
        log "installing PostgreSQL from Debian's packages"
        apt_install postgresql
        fresh=1
    fi

    if ! pg_answers; then
        local version
        version="$(pg_version)"
        if [ -z "$version" ] || [ ! -d "/etc/postgresql/$version/main" ]; then
            version="${version:-$(ls /usr/lib/postgresql | sort -V | tail -n 1)}"
            log "creating PostgreSQL $version cluster main"
            "${SUDO[@]}" pg_createcluster "$version" main
            fresh=1
        fi
        log "starting PostgreSQL $version/main"
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            pg_answers # a start racing the package's own start is fine if it now answers
        wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_answers
    fi

    if ! pg_trusts_postgres; then
        # A freshly installed Debian cluster asks for a password on TCP (scram-sha-256). The tests
        # connect as postgres without one, so put trust lines for loopback ahead of the defaults.
        local hba
        hba="$(as_postgres psql -tAc 'show hba_file')"
        log "configuring trust for 127.0.0.1 and ::1 in $hba (fresh=$fresh)"
        local tmp
        tmp="$(mktemp)"
        {
            echo "# added by live/scripts/services.sh: passwordless loopback for the test suite"
            echo "host    all    all    127.0.0.1/32    trust"
            echo "host    all    all    ::1/128         trust"
            cat "$hba"
        } >"$tmp"
        "${SUDO[@]}" install -o postgres -g postgres -m 0640 "$tmp" "$hba"
        rm -f "$tmp"
        as_postgres psql -tAc 'select pg_reload_conf()' >/dev/null
        wait_for "PostgreSQL trust authentication for postgres" pg_trusts_postgres
    fi

    if [ "$(psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc \
        "select 1 from pg_database where datname = '$PG_DB'")" != "1" ]; then
        log "creating database $PG_DB"
        psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "create database $PG_DB"
    fi
    log "PostgreSQL ready on $PG_HOST:$PG_PORT (database $PG_DB, user postgres, trust)"
}

# ---------------------------------------------------------------- Redis

redis_answers() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
    else
        # No client installed: speak the inline protocol over bash's /dev/tcp.
        local reply
        exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || return 1
        printf 'PING\r\n' >&3
        read -r -t 2 reply <&3 || reply=""
        exec 3<&- 3>&-
        [ "${reply%$'\r'}" = "+PONG" ]
    fi
}

ensure_redis() {
    if redis_answers; then
        log "Redis ready on $REDIS_HOST:$REDIS_PORT"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        log "installing Redis from Debian's packages"
        apt_install redis-server
        # The package may have started its own server; use it if so.
        if wait_for_quick redis_answers; then
            log "Redis ready on $REDIS_HOST:$REDIS_PORT"
            return 0
        fi
    fi
    log "starting Redis on $REDIS_HOST:$REDIS_PORT"
    "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
    # Nothing on disk: the tests use database 15 and flush it themselves.
    "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "Redis on $REDIS_HOST:$REDIS_PORT" redis_answers
    log "Redis ready on $REDIS_HOST:$REDIS_PORT"
}

wait_for_quick() {
    local i
    for ((i = 0; i < 3; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    return 1
}

ensure_postgres
ensure_redis
