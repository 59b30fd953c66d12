#!/usr/bin/env bash
# Kafka ingest: consume + parse + aggregate (bench_kafka: KafkaSource + Pipeline, no store) against
# `kcat -C -e` raw consumption of the same topic, in the same run, from a local `adclick broker`
# (librdkafka's in-memory mock cluster, loopback, 1 broker, 64 partitions: each mock partition keeps
# only its last ~5 MB, so 1 M records of the seed's shape need many partitions; --skew 0 spreads the
# ad-id keys evenly). Then `adclick run --source kafka --until-end` (with the store: raw log and
# checkpoints) for the full exactly-once path. kcat's time is its whole run (no group join);
# adclick's is from its first record to the end (the mock's group join, ~3 s, is reported apart).
#
# Usage: bench/kafka_vs_kcat.sh [BUILD_DIR]   (default $ADCLICK_BUILD_DIR, else /work/main/build)
# Knobs: RECORDS (1000000), ROUNDS (3). Goals: >= 2 M records/s and >= 0.9 of kcat.

set -uo pipefail
BUILD_DIR=${1:-${ADCLICK_BUILD_DIR:-/work/main/build}}
ADCLICK=$BUILD_DIR/app/adclick
BENCH=$BUILD_DIR/bench/bench_kafka
RECORDS=${RECORDS:-1000000}
ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d /tmp/kafka-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BROKERS=127.0.0.1:$PORT

"$ADCLICK" broker --port "$PORT" --brokers 1 --partitions 64 --topic clicks </dev/null >"$TMP/broker.log" 2>&1 &
BROKER_PID=$!
trap 'kill $BROKER_PID 2>/dev/null; wait $BROKER_PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q '^bootstrap:' "$TMP/broker.log" && break; sleep 0.1; done

"$ADCLICK" produce --brokers "$BROKERS" --topic clicks --rate "$RECORDS" --duration 1s --skew 0 --ads 100000 \
    | tail -1
now() { date +%s.%N; }
best_kcat=0
best_adclick=0
ratios=""
for round in $(seq "$ROUNDS"); do
    t0=$(now)
    n=$(kcat -C -b "$BROKERS" -t clicks -o beginning -e -q | wc -l)
    t1=$(now)
    kcat_rate=$(python3 -c "print(round($n / ($t1 - $t0)))")
    line=$("$BENCH" "$BROKERS" clicks)
    ad_rate=$(echo "$line" | awk '{print $7}')
    echo "round $round: kcat -C -e $n records in $(python3 -c "print(round($t1 - $t0, 3))") s = $kcat_rate/s;" \
        "adclick consume+parse+aggregate: $line"
    ratios="$ratios $(python3 -c "print(round($ad_rate / $kcat_rate, 2))")"
    best_kcat=$(python3 -c "print(max($best_kcat, $kcat_rate))")
    best_adclick=$(python3 -c "print(max($best_adclick, $ad_rate))")
done
t0=$(now)
"$ADCLICK" run --source kafka --brokers "$BROKERS" --topic clicks --group "run-$$" --until-end --watermark-bound 30m \
    --data-dir "$TMP/data" --json >"$TMP/run.log" 2>&1
t1=$(now)
echo "adclick run --source kafka --until-end with the store (raw log + checkpoints): $(python3 -c "print(round($t1 - $t0, 2))") s wall incl. group join and final checkpoint"
ratio=$(python3 -c "print(round($best_adclick / $best_kcat, 2))")
echo "best of $ROUNDS: adclick $best_adclick records/s, kcat $best_kcat records/s, ratio of the bests $ratio;" \
    "per-round ratios:$ratios (the two share 2 cores with the broker process and whatever else runs)"
python3 -c "import sys; print('goal >= 2 M/s:', 'PASS' if $best_adclick >= 2e6 else 'MISS'); print('goal >= 0.9 of kcat:', 'PASS' if $ratio >= 0.9 else 'MISS')"
