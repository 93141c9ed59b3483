#!/usr/bin/env bash
# Runs a real single-node Kafka broker (KRaft, loopback only) for samples, benchmarks and
# tests, with the Kafka jars this project builds against (dev.courier.testkit.kafka.EmbeddedKafka).
#
#   scripts/kafka.sh start [--port N] [--dir DIR]   start in the background, wait until it answers
#   scripts/kafka.sh stop  [--port N] [--dir DIR]   stop it (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status [--port N] [--dir DIR]  exit 0 if running, 1 if not
#   scripts/kafka.sh run   [--port N] [--dir DIR]   run in the foreground (Ctrl-C stops it)
#   scripts/kafka.sh log   [--port N] [--dir DIR]   print the end of the broker log
#   scripts/kafka.sh clean [--port N] [--dir DIR]   stop it and delete its directory (all data)
#
# Defaults: port 9092 (controller on port + 1), directory ${TMPDIR:-/tmp}/courier-kafka-<port>
# holding the data, server.properties, broker.log and broker.pid. Data is kept across
# stop/start. Tests use this broker with: COURIER_TEST_KAFKA_URL=kafka://127.0.0.1:9092
#
# Environment: KAFKA_PORT, COURIER_KAFKA_DIR (same as --port, --dir),
#   COURIER_KAFKA_JVM_OPTS (default: -Xms64m -Xmx512m -XX:+UseSerialGC),
#   COURIER_KAFKA_START_TIMEOUT (seconds, default 90), JAVA (default: java on PATH or JAVA_HOME).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN_CLASS=dev.courier.testkit.kafka.EmbeddedKafka

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

[[ $# -ge 1 ]] || usage
COMMAND="$1"
shift
PORT="${KAFKA_PORT:-9092}"
DIR="${COURIER_KAFKA_DIR:-}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) PORT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "bad port: $PORT" >&2; exit 2; }
DIR="${DIR:-${TMPDIR:-/tmp}/courier-kafka-$PORT}"
PID_FILE="$DIR/broker.pid"
LOG_FILE="$DIR/broker.log"
BOOTSTRAP="127.0.0.1:$PORT"
JVM_OPTS="${COURIER_KAFKA_JVM_OPTS:--Xms64m -Xmx512m -XX:+UseSerialGC}"
START_TIMEOUT="${COURIER_KAFKA_START_TIMEOUT:-90}"
if [[ -n "${JAVA:-}" ]]; then :;
elif [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java";
else JAVA=java; fi

running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # make sure the pid was not reused by an unrelated process
    grep -q "$MAIN_CLASS" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# Compiles testkit (and what it depends on) and writes its runtime + test classpath.
classpath() {
    local cp_file="$ROOT/testkit/target/kafka-classpath.txt"
    local classes="$ROOT/testkit/target/classes"
    if [[ ! -s "$cp_file" || ! -d "$classes/dev/courier/testkit/kafka" || "$ROOT/testkit/pom.xml" -nt "$cp_file" \
          || "$ROOT/pom.xml" -nt "$cp_file" \
          || -n "$(find "$ROOT/testkit/src/main" -newer "$cp_file" -name '*.java' 2>/dev/null | head -1)" ]]; then
        echo "Building the testkit classpath (./mvnw -pl testkit -am test-compile dependency:build-classpath) ..." >&2
        (cd "$ROOT" && ./mvnw -q -pl testkit -am test-compile \
            org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
            -Dmdep.outputFile=target/kafka-classpath.txt -Dmdep.includeScope=test) >&2
    fi
    echo "$classes:$(cat "$cp_file")"
}

java_command() {
    local cp
    cp="$(classpath)"
    # shellcheck disable=SC2206
    local opts=($JVM_OPTS)
    CMD=("$JAVA" "${opts[@]}" -cp "$cp" "$MAIN_CLASS" --port "$PORT" --dir "$DIR")
}

do_start() {
    local pid
    if pid="$(running_pid)"; then
        echo "Kafka is already running: bootstrap.servers=$BOOTSTRAP (pid $pid, dir $DIR)"
        return 0
    fi
    mkdir -p "$DIR"
    java_command
    local from=1
    [[ -f "$LOG_FILE" ]] && from=$(( $(wc -l < "$LOG_FILE") + 1 ))
    echo "=== $(date '+%F %T') scripts/kafka.sh start" >> "$LOG_FILE"
    nohup "${CMD[@]}" >> "$LOG_FILE" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$PID_FILE"
    local deadline=$(( SECONDS + START_TIMEOUT ))
    while (( SECONDS < deadline )); do
        if tail -n +"$from" "$LOG_FILE" | grep -q "COURIER KAFKA READY"; then
            echo "Kafka is running: bootstrap.servers=$BOOTSTRAP url=kafka://$BOOTSTRAP (pid $pid, dir $DIR)"
            echo "Use it in tests with: export COURIER_TEST_KAFKA_URL=kafka://$BOOTSTRAP"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            echo "Kafka exited during startup. Last lines of $LOG_FILE:" >&2
            tail -n +"$from" "$LOG_FILE" | tail -n 40 >&2
            return 1
        fi
        sleep 0.2
    done
    echo "Kafka did not answer within ${START_TIMEOUT}s; stopping it. Last lines of $LOG_FILE:" >&2
    tail -n +"$from" "$LOG_FILE" | tail -n 40 >&2
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    return 1
}

do_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        echo "Kafka is not running (dir $DIR)"
        return 0
    fi
    kill "$pid"
    local deadline=$(( SECONDS + 30 ))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "Kafka did not stop within 30s: killing pid $pid" >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    echo "Kafka stopped (pid $pid; data kept in $DIR)"
}

case "$COMMAND" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop; do_start ;;
    status)
        if pid="$(running_pid)"; then
            echo "Kafka is running: bootstrap.servers=$BOOTSTRAP (pid $pid, dir $DIR)"
        else
            echo "Kafka is not running (dir $DIR)"
            exit 1
        fi ;;
    run)
        if pid="$(running_pid)"; then
            echo "Kafka is already running in the background (pid $pid); stop it first" >&2
            exit 1
        fi
        mkdir -p "$DIR"
        java_command
        exec "${CMD[@]}" ;;
    log) tail -n 60 "$LOG_FILE" ;;
    clean)
        do_stop
        rm -rf "$DIR"
        echo "Deleted $DIR" ;;
    -h|--help|help) usage 0 ;;
    *) echo "unknown command: $COMMAND" >&2; usage ;;
esac
