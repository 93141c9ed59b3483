#!/usr/bin/env bash
# Checks and starts the local services the integration tests use: PostgreSQL, Redis, RabbitMQ
# and NATS with JetStream, all on 127.0.0.1 and installed from Debian packages. Kafka has its own
# script (scripts/kafka.sh).
#
#   scripts/brokers.sh check  [SERVICE...]   one line per service; exit 1 if any is down
#   scripts/brokers.sh start  [SERVICE...]   start what is down, wait until it answers (default)
#   scripts/brokers.sh status [SERVICE...]   like check, with versions and details
#
# SERVICE is one of postgres, redis, rabbitmq, nats (default: all).
#
# Options (start):
#   --install        apt-get install a missing package (implied when root and CI is set)
#   --timeout SECS   how long to wait for each service to answer (default 60, or $BROKERS_TIMEOUT)
#
# Exit status: 0 when every selected service is up, 1 when one is down or failed to start,
# 2 on a usage error. Safe to run again and again: running services are left alone.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"

readonly ALL_SERVICES=(postgres redis rabbitmq nats)
HOST=127.0.0.1
TIMEOUT="${BROKERS_TIMEOUT:-60}"
INSTALL=0
if [[ $EUID -eq 0 && -n "${CI:-}" ]]; then
    INSTALL=1
fi

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

die_usage() {
    echo "brokers.sh: $*" >&2
    echo "usage: scripts/brokers.sh [check|start|status] [--install] [--timeout SECS] [SERVICE...]" >&2
    exit 2
}

# ---------------------------------------------------------------------------------------------
# Per-service facts

port_of() {
    case "$1" in
        postgres) echo 5432 ;;
        redis) echo 6379 ;;
        rabbitmq) echo 5672 ;;
        nats) echo 4222 ;;
    esac
}

package_of() {
    case "$1" in
        postgres) echo postgresql ;;
        redis) echo redis-server ;;
        rabbitmq) echo rabbitmq-server ;;
        nats) echo nats-server ;;
    esac
}

is_installed() {
    case "$1" in
        postgres) command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G '/etc/postgresql/*/main' >/dev/null ;;
        redis) command -v redis-server >/dev/null 2>&1 ;;
        rabbitmq) command -v rabbitmq-server >/dev/null 2>&1 ;;
        nats) [[ -x /usr/sbin/nats-server ]] ;;
    esac
}

# The command that starts a service, for messages.
start_command_of() {
    case "$1" in
        postgres) echo "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" ;;
        redis) echo "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log" ;;
        rabbitmq) echo "rabbitmq-server -detached" ;;
        nats) echo "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log" ;;
    esac
}

log_of() {
    case "$1" in
        postgres) echo "/var/log/postgresql/" ;;
        redis) echo "/var/log/redis/ci.log" ;;
        rabbitmq) echo "/var/log/rabbitmq/" ;;
        nats) echo "/var/log/nats-server.log" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Probes (bash /dev/tcp, no nc). Each prints nothing and returns 0 when healthy; on failure it
# leaves a one-line reason in PROBE_ERROR.

PROBE_ERROR=""
LOG_DIR="${TMPDIR:-/tmp}/brokers-sh.$EUID"

port_open() {
    timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

probe_postgres() {
    if ! port_open 5432; then
        PROBE_ERROR="port 5432 does not answer"
        return 1
    fi
    if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h "$HOST" -p 5432 -t 3; then
        PROBE_ERROR="port 5432 answers but the server is not accepting connections yet"
        return 1
    fi
    return 0
}

probe_redis() {
    local reply
    if ! reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/6379 && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 && printf '%s' \"\$line\"" 2>/dev/null); then
        PROBE_ERROR="port 6379 does not answer"
        return 1
    fi
    reply=${reply%$'\r'}
    if [[ "$reply" != "+PONG" ]]; then
        PROBE_ERROR="port 6379 answered PING with '${reply:-nothing}' instead of +PONG"
        return 1
    fi
    return 0
}

probe_rabbitmq() {
    local frame
    local -a bytes
    # an AMQP 0-9-1 broker answers the protocol header with a Connection.Start method frame:
    # frame type 1 on channel 0
    if ! frame=$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/5672 && printf 'AMQP\x00\x00\x09\x01' >&3 && head -c 3 <&3 | od -An -tx1" 2>/dev/null); then
        PROBE_ERROR="port 5672 does not answer"
        return 1
    fi
    read -r -a bytes <<<"$frame" || true
    frame="${bytes[*]:-}"
    if [[ "$frame" != "01 00 00" ]]; then
        PROBE_ERROR="port 5672 answers but not with an AMQP 0-9-1 Connection.Start (got '${frame:-nothing}')"
        return 1
    fi
    return 0
}

# Reads the INFO line NATS sends on connect.
nats_info() {
    timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/4222 && IFS= read -r -t 2 line <&3 && printf '%s' \"\$line\"" 2>/dev/null
}

probe_nats() {
    local info
    if ! info=$(nats_info); then
        PROBE_ERROR="port 4222 does not answer"
        return 1
    fi
    if [[ "$info" != INFO* ]]; then
        PROBE_ERROR="port 4222 answers but not with a NATS INFO line"
        return 1
    fi
    if [[ "$info" != *'"jetstream":true'* ]]; then
        PROBE_ERROR="NATS is up but JetStream is disabled; restart it with -js: kill the running nats-server, then $(start_command_of nats)"
        return 1
    fi
    return 0
}

probe() {
    PROBE_ERROR=""
    "probe_$1"
}

# ---------------------------------------------------------------------------------------------
# Starting

launch_postgres() {
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

launch_redis() {
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

launch_rabbitmq() {
    rabbitmq-server -detached
}

launch_nats() {
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

install_package() {
    local pkg=$1
    export DEBIAN_FRONTEND=noninteractive
    echo "$pkg is not installed; installing it with apt-get" >&2
    if apt-get install -y -q --no-install-recommends "$pkg" >"$LOG_DIR/apt.log" 2>&1; then
        return 0
    fi
    # a fresh image often has no package lists yet
    apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "$pkg" >>"$LOG_DIR/apt.log" 2>&1
}

# A freshly installed PostgreSQL: trust local connections and create the test database, as the
# tests expect (127.0.0.1:5432, user postgres, no password, database test).
configure_fresh_postgres() {
    local hba
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        [[ -f "$hba" ]] || continue
        if ! grep -q '^host[[:space:]]\+all[[:space:]]\+all[[:space:]]\+127.0.0.1/32[[:space:]]\+trust' "$hba"; then
            {
                echo "local all all trust"
                echo "host all all 127.0.0.1/32 trust"
                echo "host all all ::1/128 trust"
                cat "$hba"
            } >"$hba.new" && mv "$hba.new" "$hba"
            chown postgres:postgres "$hba" 2>/dev/null || true
        fi
    done
}

# Creates the database "test" when it is missing (needs psql and trust auth for postgres).
ensure_test_database() {
    command -v psql >/dev/null 2>&1 || return 0
    local out
    if PGCONNECT_TIMEOUT=5 psql -h "$HOST" -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
        return 0
    fi
    if out=$(PGCONNECT_TIMEOUT=5 psql -h "$HOST" -U postgres -d postgres -qc 'create database test' 2>&1); then
        echo "postgres: created database test" >&2
        return 0
    fi
    echo "postgres: cannot use database test as user postgres without a password on $HOST:5432: ${out//$'\n'/ }" >&2
    echo "postgres: the tests need trust auth (pg_hba.conf: host all all 127.0.0.1/32 trust) and:" \
        "psql -h 127.0.0.1 -U postgres -c 'create database test'" >&2
    return 1
}

# ---------------------------------------------------------------------------------------------
# Commands

line() {
    printf '%-9s %-5s %s\n' "$1" "$2" "$3"
}

cmd_check() {
    local s failed=0
    for s in "${SERVICES[@]}"; do
        if probe "$s"; then
            line "$s" up "$HOST:$(port_of "$s")"
        else
            line "$s" down "$PROBE_ERROR"
            failed=1
        fi
    done
    return $failed
}

cmd_status() {
    local s failed=0 detail
    for s in "${SERVICES[@]}"; do
        detail=""
        if ! is_installed "$s"; then
            detail="package $(package_of "$s") not installed; "
        fi
        if probe "$s"; then
            line "$s" up "$HOST:$(port_of "$s") ${detail}$(details_of "$s")"
        else
            line "$s" down "$PROBE_ERROR; ${detail}start: $(start_command_of "$s")"
            failed=1
        fi
    done
    return $failed
}

details_of() {
    case "$1" in
        postgres)
            if command -v psql >/dev/null 2>&1; then
                local v db
                v=$(PGCONNECT_TIMEOUT=3 psql -h "$HOST" -U postgres -d postgres -tAc 'show server_version' 2>/dev/null || true)
                db=$(PGCONNECT_TIMEOUT=3 psql -h "$HOST" -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'test'" 2>/dev/null || true)
                echo "version ${v:-unknown (no trust auth for postgres?)}, database test $([[ "$db" == 1 ]] && echo present || echo MISSING)"
            fi
            ;;
        redis)
            if command -v redis-cli >/dev/null 2>&1; then
                echo "version $(redis-cli -h "$HOST" -p 6379 info server 2>/dev/null | tr -d '\r' | sed -n 's/^redis_version://p')"
            fi
            ;;
        rabbitmq)
            local out=""
            if command -v rabbitmqctl >/dev/null 2>&1; then
                if timeout 30 rabbitmqctl -q status >/dev/null 2>&1; then
                    out="rabbitmqctl status ok"
                else
                    out="rabbitmqctl status failed (not root?)"
                fi
                if timeout 30 rabbitmqctl -q list_users 2>/dev/null | grep -q '^guest'; then
                    out="$out, user guest present"
                fi
            fi
            if command -v rabbitmq-plugins >/dev/null 2>&1; then
                if timeout 30 rabbitmq-plugins list -e -m 2>/dev/null | grep -qx 'rabbitmq_management'; then
                    out="$out, management plugin enabled"
                else
                    out="$out, management plugin not enabled"
                fi
            fi
            echo "${out#, }"
            ;;
        nats)
            local info
            info=$(nats_info || true)
            echo "version $(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' <<<"$info"), JetStream enabled"
            ;;
    esac
}

# Starts one service if it is down; prints nothing on success (the final check prints the line).
# Returns 1 with a message on stderr when the service cannot be started.
launch() {
    local s=$1 pkg
    pkg=$(package_of "$s")
    if probe "$s"; then
        return 0
    fi
    if [[ "$s" == nats && "$PROBE_ERROR" == *"JetStream is disabled"* ]]; then
        echo "nats: $PROBE_ERROR" >&2
        return 1
    fi
    if port_open "$(port_of "$s")"; then
        # something listens already, most likely the service still starting up: just wait
        echo "$s: not ready yet ($PROBE_ERROR); waiting" >&2
        return 0
    fi
    if ! is_installed "$s"; then
        if [[ $INSTALL -ne 1 ]]; then
            echo "$s: package $pkg is not installed. Install it with: sudo apt-get install -y $pkg" \
                "(or run: sudo scripts/brokers.sh start --install)" >&2
            return 1
        fi
        if [[ $EUID -ne 0 ]]; then
            echo "$s: package $pkg is not installed and installing needs root: sudo apt-get install -y $pkg" >&2
            return 1
        fi
        mkdir -p "$LOG_DIR"
        if ! install_package "$pkg"; then
            echo "$s: apt-get install -y $pkg failed; see $LOG_DIR/apt.log" >&2
            return 1
        fi
        if [[ "$s" == postgres ]]; then
            configure_fresh_postgres
            # the package's own start (if any) read the old pg_hba.conf
            if probe postgres; then
                pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main reload >/dev/null 2>&1 || true
            fi
        fi
        # the package may have started the service itself
        if probe "$s"; then
            return 0
        fi
    fi
    echo "$s: down ($PROBE_ERROR); starting it" >&2
    mkdir -p "$LOG_DIR"
    if ! "launch_$s" >"$LOG_DIR/$s.log" 2>&1; then
        if grep -qi 'already running' "$LOG_DIR/$s.log"; then
            # started by someone else a moment ago and still booting
            return 0
        fi
        echo "$s: start failed: $(tail -n 3 "$LOG_DIR/$s.log" | tr '\n' ' ')" >&2
        if [[ $EUID -ne 0 ]]; then
            echo "$s: starting system services usually needs root; try: sudo $(start_command_of "$s")" >&2
        else
            echo "$s: start it by hand with: $(start_command_of "$s"); logs: $(log_of "$s")" >&2
        fi
        return 1
    fi
}

wait_until_up() {
    local s=$1 deadline=$((SECONDS + TIMEOUT))
    while ! probe "$s"; do
        if ((SECONDS >= deadline)); then
            echo "$s: still down after ${TIMEOUT}s ($PROBE_ERROR); logs: $(log_of "$s");" \
                "start it by hand with: $(start_command_of "$s")" >&2
            return 1
        fi
        sleep 1
    done
    if [[ "$s" == rabbitmq ]] && command -v rabbitmqctl >/dev/null 2>&1; then
        # the port opens late in the boot, but let the node confirm it finished booting
        local left=$((deadline - SECONDS))
        ((left > 5)) || left=5
        if ! timeout "$left" rabbitmqctl -q await_startup >/dev/null 2>&1; then
            echo "rabbitmq: port 5672 answers but 'rabbitmqctl await_startup' did not succeed; continuing" >&2
        fi
    fi
}

cmd_start() {
    local s failed=0
    local -a launched=()
    # launch everything that is down first, then wait: RabbitMQ's boot overlaps the others'
    for s in "${SERVICES[@]}"; do
        if probe "$s"; then
            continue
        fi
        if launch "$s"; then
            launched+=("$s")
        else
            failed=1
        fi
    done
    for s in "${launched[@]}"; do
        wait_until_up "$s" || failed=1
    done
    if [[ " ${SERVICES[*]} " == *" postgres "* ]] && probe postgres; then
        ensure_test_database || failed=1
    fi
    cmd_check || failed=1
    if [[ $failed -ne 0 ]]; then
        echo "brokers.sh: some services are not available; see the messages above" >&2
    fi
    return $failed
}

# ---------------------------------------------------------------------------------------------

COMMAND=start
SERVICES=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        check | start | status) COMMAND=$1 ;;
        --install) INSTALL=1 ;;
        --timeout)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die_usage "--timeout needs a number of seconds"
            TIMEOUT=$2
            shift
            ;;
        --timeout=*)
            TIMEOUT=${1#--timeout=}
            [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die_usage "--timeout needs a number of seconds"
            ;;
        -h | --help | help)
            usage
            exit 0
            ;;
        postgres | postgresql) SERVICES+=(postgres) ;;
        redis) SERVICES+=(redis) ;;
        rabbitmq | rabbit) SERVICES+=(rabbitmq) ;;
        nats) SERVICES+=(nats) ;;
        *) die_usage "unknown argument '$1'" ;;
    esac
    shift
done
if [[ ${#SERVICES[@]} -eq 0 ]]; then
    SERVICES=("${ALL_SERVICES[@]}")
fi

case "$COMMAND" in
    check) cmd_check ;;
    start) cmd_start ;;
    status) cmd_status ;;
esac
