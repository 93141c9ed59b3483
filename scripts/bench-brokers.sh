#!/usr/bin/env bash
# RabbitMQ and NATS benchmarks of Courier: plain client vs Courier, in one go (see docs/benchmarks.md).
#
#   scripts/bench-brokers.sh rabbitmq   plain amqp-client vs Courier publish (confirms) and consume
#   scripts/bench-brokers.sh nats       plain jnats vs Courier: core publish, JetStream publish and consume
#   scripts/bench-brokers.sh all        both (default)
#
# Uses running brokers: RabbitMQ at BENCH_RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672/%2F)
# and NATS with JetStream at BENCH_NATS_URL (default nats://127.0.0.1:4222). Everything the
# benchmarks create is named bench.* (streams bench_*) and deleted at the end. Extra JVM system
# properties go in BENCH_OPTS, for example
#   BENCH_OPTS="-Dmessages=10000 -Drounds=1" scripts/bench-brokers.sh nats
# Environment: JAVA17 (default: java on PATH), BENCH_DIR (default benchmarks/courier/target/bench-brokers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHAT="${1:-all}"
JAVA17="${JAVA17:-java}"
BENCH_DIR="${BENCH_DIR:-$ROOT/benchmarks/courier/target/bench-brokers}"
RABBIT_URL="${BENCH_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"
NATS_URL="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
# shellcheck disable=SC2206
OPTS=(${BENCH_OPTS:-})

case "$WHAT" in
    rabbitmq|nats|all) ;;
    *) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

# Compiles the benchmark module (and what it needs) and writes its runtime classpath.
(cd "$ROOT" && ./mvnw -q -pl benchmarks/courier -am compile \
    org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
    -Dmdep.outputFile=target/runtime-classpath.txt -Dmdep.includeScope=runtime) >&2
CP="$ROOT/benchmarks/courier/target/classes:$(cat "$ROOT/benchmarks/courier/target/runtime-classpath.txt")"

run() {
    "$JAVA17" -Xms512m -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -Dbench.rabbitmq.url="$RABBIT_URL" -Dbench.nats.url="$NATS_URL" "${OPTS[@]}" -Dbench.dir="$BENCH_DIR" \
        -cp "$CP" "$1"
}

case "$WHAT" in
    rabbitmq) run dev.courier.benchmarks.rabbitmq.RabbitThroughput ;;
    nats) run dev.courier.benchmarks.nats.NatsThroughput ;;
    all) run dev.courier.benchmarks.rabbitmq.RabbitThroughput; run dev.courier.benchmarks.nats.NatsThroughput ;;
esac
