#!/usr/bin/env bash
# Kafka benchmarks of Courier, each in one go (see docs/benchmarks.md).
#
#   scripts/bench-kafka.sh clients    raw KafkaProducer/KafkaConsumer vs Courier publish/subscribe
#   scripts/bench-kafka.sh parallel   Courier's parallel consumer (JDK 17 and 25) vs Confluent Parallel Consumer
#   scripts/bench-kafka.sh all        both (default)
#
# Every command starts its own embedded Kafka broker (a child JVM on free loopback ports) and
# stops it at the end. Extra JVM system properties go in BENCH_OPTS, for example
#   BENCH_OPTS="-Drounds=5 -Dbench.scale=0.1" scripts/bench-kafka.sh parallel
# Environment: JAVA17 (default: java on PATH), JAVA25 (default /usr/lib/jvm/temurin-25-jdk-amd64/bin/java
# when present; the JDK 25 column is skipped without it), BENCH_DIR (default benchmarks/courier/target/bench-kafka).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHAT="${1:-all}"
JAVA17="${JAVA17:-java}"
JAVA25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
[[ -x "$JAVA25" ]] || JAVA25=""
BENCH_DIR="${BENCH_DIR:-$ROOT/benchmarks/courier/target/bench-kafka}"
# shellcheck disable=SC2206
OPTS=(${BENCH_OPTS:-})

# Compiles both benchmark modules (and what they need) and writes their runtime classpaths.
(cd "$ROOT" && ./mvnw -q -pl benchmarks/courier,benchmarks/confluent-pc -am compile \
    org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
    -Dmdep.outputFile=target/runtime-classpath.txt -Dmdep.includeScope=runtime) >&2
COURIER_CP="$ROOT/benchmarks/courier/target/classes:$(cat "$ROOT/benchmarks/courier/target/runtime-classpath.txt")"
PC_CP="$ROOT/benchmarks/confluent-pc/target/classes:$(cat "$ROOT/benchmarks/confluent-pc/target/runtime-classpath.txt")"

clients() {
    # the whole heap touched up front: first-touch page faults in the measured rounds (a fifth of the
    # plain consumer's polling thread in one profile) would charge whichever side allocated first
    "$JAVA17" -Xms2g -Xmx2g -XX:+AlwaysPreTouch -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "${OPTS[@]}" -Dbench.dir="$BENCH_DIR" \
        -cp "$COURIER_CP" dev.courier.benchmarks.kafka.ClientThroughput
}

parallel() {
    "$JAVA17" -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "${OPTS[@]}" -Dbench.dir="$BENCH_DIR" \
        -Dbench.courier.cp="$COURIER_CP" -Dbench.pc.cp="$PC_CP" \
        -Dbench.java17="$(command -v "$JAVA17")" -Dbench.java25="$JAVA25" \
        -cp "$COURIER_CP" dev.courier.benchmarks.kafka.ParallelCompare
}

case "$WHAT" in
    clients) clients ;;
    parallel) parallel ;;
    all) clients; parallel ;;
    *) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
