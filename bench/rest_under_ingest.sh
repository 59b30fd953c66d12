#!/usr/bin/env bash
# The REST API under ingest: `adclick serve --rate 50000 --clock real` on a free loopback port,
# wrk (bounded in time) against /healthz (the HTTP floor: no store access), aggregated_count and
# top_k; the ingest rate held during each run (from /v1/pipeline); and the freshness of
# aggregated_count (bench_rest_freshness). Then the same endpoints on a finished data directory
# (ingestion off), to show what concurrent ingest costs. Prints numbers, ratios to the baselines
# of this run and PASS/MISS against the goals; a missed goal does not fail the script, but a
# non-2xx answer, a socket error, a dead server or an unclean stop does (exit 1).
#
# Usage: bench/rest_under_ingest.sh [BUILD_DIR]   (default $ADCLICK_BUILD_DIR, else /work/main/build)
# Needs: BUILD_DIR/app/adclick, BUILD_DIR/bench/bench_rest_freshness, wrk, curl, jq.
# Knobs (environment): WRK_SECONDS (8) and OFF_WRK_SECONDS (6) per wrk run, ROWS_WRK_SECONDS (10) for
# top_k over the stored rows, WRK_CONNECTIONS (8),
# POLL_MS (10) freshness poll period, IDLE_FRESHNESS_SECONDS (8), KEEP_TMP=1 keeps the logs.
# Takes about 85 s.

set -uo pipefail

BUILD_DIR=${1:-${ADCLICK_BUILD_DIR:-/work/main/build}}
ADCLICK=$BUILD_DIR/app/adclick
FRESHNESS=$BUILD_DIR/bench/bench_rest_freshness
RATE=50000
WRK_SECONDS=${WRK_SECONDS:-8}
OFF_WRK_SECONDS=${OFF_WRK_SECONDS:-6}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-8}
POLL_MS=${POLL_MS:-10}
IDLE_FRESHNESS_SECONDS=${IDLE_FRESHNESS_SECONDS:-8}
ROWS_WRK_SECONDS=${ROWS_WRK_SECONDS:-10}
TOP_ADS=20 # aggregated_count rotates over the most clicked ads

# Goals (the issue).
GOAL_RPS=5000
GOAL_P99_MS=10
GOAL_INGEST_RATIO=0.99
GOAL_FRESHNESS_P99_MS=1000

for tool in wrk curl jq; do
    command -v "$tool" >/dev/null || { echo "rest_under_ingest: needs $tool" >&2; exit 2; }
done
for bin in "$ADCLICK" "$FRESHNESS"; do
    [ -x "$bin" ] || { echo "rest_under_ingest: $bin not built (ninja -C $BUILD_DIR adclick bench_rest_freshness)" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/adclick-restbench.XXXXXX)
SERVER_PID=
SERVER_NAME=
POLLER_PID=
FAILURES=()

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$POLLER_PID" ] && kill -0 "$POLLER_PID" 2>/dev/null; then
        kill "$POLLER_PID" 2>/dev/null
        wait "$POLLER_PID" 2>/dev/null
    fi
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "rest_under_ingest: logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "rest_under_ingest: FAILED: $*" >&2
    for f in "$TMP"/*.err; do
        [ -s "$f" ] && { echo "--- $f (tail)" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# start_server NAME ARGS...: starts `adclick serve` on a free loopback port; sets SERVER_PID, PORT, BASE.
start_server() {
    SERVER_NAME=$1
    shift
    "$ADCLICK" serve --listen 127.0.0.1:0 "$@" >"$TMP/$SERVER_NAME.out" 2>"$TMP/$SERVER_NAME.err" &
    SERVER_PID=$!
    PORT=
    local deadline=$((SECONDS + 30))
    while [ -z "$PORT" ]; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "server '$SERVER_NAME' exited during start"
        [ "$SECONDS" -lt "$deadline" ] || die "server '$SERVER_NAME' printed no 'listening on' line in 30 s"
        PORT=$(sed -n 's|^adclick serve: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/$SERVER_NAME.out" | head -n 1)
        [ -n "$PORT" ] || sleep 0.05
    done
    BASE="http://127.0.0.1:$PORT"
}

# stop_server: SIGTERM, expect exit 0 within 20 s.
stop_server() {
    kill -0 "$SERVER_PID" 2>/dev/null || die "server '$SERVER_NAME' died before it was stopped"
    kill -TERM "$SERVER_PID"
    for _ in $(seq 200); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
        die "server '$SERVER_NAME' did not stop within 20 s of SIGTERM"
    fi
    wait "$SERVER_PID"
    local rc=$?
    SERVER_PID=
    [ "$rc" -eq 0 ] || die "server '$SERVER_NAME' exited with $rc after SIGTERM"
}

alive() {
    kill -0 "$SERVER_PID" 2>/dev/null || die "server '$SERVER_NAME' died (see $TMP/$SERVER_NAME.err)"
}

get() { curl -sf --max-time 5 "$BASE$1"; }

# pipeline_sample: "received wall_seconds lag_seconds" from one snapshot of /v1/pipeline
# (received and wall_seconds are taken together; lag = server time − processing time).
pipeline_sample() {
    get /v1/pipeline | jq -r '"\(.counters.received) \(.wall_seconds) \(.server_time - .processing_time)"' \
        || die "GET /v1/pipeline failed"
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# The wrk script: rotates over the given paths, prints one WRKRESULT line when done.
write_wrk_script() {
    local file=$1
    shift
    {
        echo "local paths = {"
        for p in "$@"; do echo "  \"$p\","; done
        cat <<'LUA'
}
local requests = {}
local idx = 0
init = function(args)
  for i, p in ipairs(paths) do requests[i] = wrk.format("GET", p) end
end
request = function()
  idx = idx % #requests + 1
  return requests[idx]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
LUA
    } >"$file"
}

ROWS=() # the table: one line per run

# run_wrk PHASE LABEL SECONDS CONNECTIONS TIMEOUT_S MEASURE_INGEST PATHS...: one bounded wrk run;
# appends a row to ROWS and sets LAST_RPS, LAST_P99.
run_wrk() {
    local phase=$1 label=$2 seconds=$3 connections=$4 timeout=$5 ingest=$6
    shift 6
    local key="${phase}_${label//[^a-zA-Z0-9]/_}"
    local script=$TMP/$key.lua log=$TMP/$key.wrk.log
    write_wrk_script "$script" "$@"
    local before after
    [ "$ingest" = 1 ] && before=$(pipeline_sample)
    wrk -t1 -c"$connections" -d"${seconds}s" --timeout "${timeout}s" --latency -s "$script" "$BASE" >"$log" 2>&1 \
        || die "wrk failed on $label: $(tail -n 3 "$log")"
    alive
    [ "$ingest" = 1 ] && after=$(pipeline_sample)
    local line
    line=$(grep '^WRKRESULT' "$log") || die "wrk printed no result for $label: $(tail -n 5 "$log")"
    local requests rps p50 p99 max non2xx serr
    read -r requests rps p50 p99 max non2xx serr < <(echo "$line" | tr ' ' '\n' | awk -F= '
        { v[$1] = $2 }
        END { print v["requests"], v["rps"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["non2xx"], v["socket_errors"] }')
    if [ "$requests" -eq 0 ]; then # no latency figures: a miss (never 0 ms), not a failed request
        p50=nan p99=nan max=nan
        echo "rest_under_ingest: warning: $phase $label: no request completed in ${seconds} s" >&2
    fi
    [ "$non2xx" -eq 0 ] || FAILURES+=("$phase $label: $non2xx answers with status >= 400")
    [ "$serr" -eq 0 ] || FAILURES+=("$phase $label: $serr socket errors (connect/read/write/timeout)")
    local ingestRate="-" ingestRatio="-" lag="-"
    if [ "$ingest" = 1 ]; then
        read -r r0 w0 _ <<<"$before"
        read -r r1 w1 l1 <<<"$after"
        ingestRate=$(calc "%.0f" "($r1 - $r0) / ($w1 - $w0)")
        ingestRatio=$(calc "%.4f" "$ingestRate / $RATE")
        lag=$(calc "%.2f" "$l1")
        INGEST_RATIOS+=("$ingestRatio")
    fi
    LAST_RPS=$rps
    LAST_P99=$p99
    ROWS+=("$(printf '%-10s %-44s %9.1f %9s %8.2f %8.2f %8.2f %7d %7d %9s %7s %6s' "$phase" "$label" "$rps" "@RATIO@" \
        "$p50" "$p99" "$max" "$non2xx" "$serr" "$ingestRate" "$ingestRatio" "$lag")")
}

# Freshness result fields from a bench_rest_freshness log.
freshness_field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

start_wall=$SECONDS
echo "adclick REST API under ingest — $(nproc) CPUs, $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2), build $BUILD_DIR"
echo "wrk -t1 -c$WRK_CONNECTIONS, ${WRK_SECONDS} s per run under ingest, ${OFF_WRK_SECONDS} s without; ingest rate $RATE/s"
echo

# ---- Phase 1: ingestion on -----------------------------------------------------------------------
INGEST_RATIOS=()
start_server live --data-dir "$TMP/live" --rate "$RATE" --clock real
echo "ingest on:  adclick serve --rate $RATE --clock real (pid $SERVER_PID, $BASE)"

# Wait for the first checkpoint (stored rows), then take the most clicked ads from them.
ads=
for _ in $(seq 200); do
    alive
    pt=$(get /v1/pipeline | jq -r '.processing_time // empty')
    if [ -n "$pt" ]; then
        to=$(calc "%.0f" "int($pt / 60) * 60 + 60")
        ads=$(get "/v1/ads/top_k?k=$TOP_ADS&from=$((to - 600))&to=$to" | jq -r '.top_ads[].ad_id' 2>/dev/null | tr '\n' ' ')
        [ -n "$ads" ] && break
    fi
    sleep 0.1
done
[ -n "$ads" ] || die "no ad in the stored rows after 20 s"
read -ra AD_LIST <<<"$ads"
TOP_AD=${AD_LIST[0]}
echo "ingest on:  top ads ${AD_LIST[*]:0:5}… (aggregated_count rotates over ${#AD_LIST[@]})"

COUNT_PATHS=()
for a in "${AD_LIST[@]}"; do COUNT_PATHS+=("/v1/ads/$a/aggregated_count"); done

# Freshness with no HTTP load (baseline).
"$FRESHNESS" --port "$PORT" --ad "$TOP_AD" --seconds "$IDLE_FRESHNESS_SECONDS" --period-ms "$POLL_MS" \
    --label "freshness, no HTTP load" >"$TMP/fresh_idle.log" 2>"$TMP/fresh_idle.err" \
    || FAILURES+=("freshness poller (no load) failed: $(head -n 3 "$TMP/fresh_idle.err")")
alive

# Freshness under load: the poller runs through the three runs of the issue's load (the HTTP floor
# included, so each sees the same extra 1/POLL_MS requests), and is stopped before the stored-rows top_k.
"$FRESHNESS" --port "$PORT" --ad "$TOP_AD" --seconds 120 --period-ms "$POLL_MS" \
    --label "freshness, under wrk" >"$TMP/fresh_load.log" 2>"$TMP/fresh_load.err" &
POLLER_PID=$!

ingest_begin=$(pipeline_sample)
run_wrk "ingest on" "/healthz (HTTP floor)" "$WRK_SECONDS" "$WRK_CONNECTIONS" 2 1 /healthz
ON_FLOOR=$LAST_RPS
run_wrk "ingest on" "aggregated_count (last 60 min, ${#AD_LIST[@]} ads)" "$WRK_SECONDS" "$WRK_CONNECTIONS" 2 1 \
    "${COUNT_PATHS[@]}"
ON_COUNT=$LAST_RPS ON_COUNT_P99=$LAST_P99
run_wrk "ingest on" "top_k?k=100 (live last minute)" "$WRK_SECONDS" "$WRK_CONNECTIONS" 2 1 "/v1/ads/top_k?k=100"
ON_TOPK=$LAST_RPS ON_TOPK_P99=$LAST_P99
ingest_end=$(pipeline_sample)

kill -TERM "$POLLER_PID" 2>/dev/null
wait "$POLLER_PID"
poller_rc=$?
POLLER_PID=
[ "$poller_rc" -eq 0 ] || FAILURES+=("freshness poller (under load) failed: $(head -n 3 "$TMP/fresh_load.err")")
alive
get /v1/pipeline >"$TMP/live_pipeline.json" || die "GET /v1/pipeline failed"

# top_k over the stored rows (from/to: the last 10 minutes) takes a second or more of SQLite per request:
# 1 connection and a 20 s timeout, last in the phase (a query still running when wrk stops runs on).
pt=$(get /v1/pipeline | jq -r '.processing_time')
to=$(calc "%.0f" "int($pt / 60) * 60 + 60")
run_wrk "ingest on" "top_k?k=100&from&to (rows, 10 min; -c1)" "$ROWS_WRK_SECONDS" 1 20 1 \
    "/v1/ads/top_k?k=100&from=$((to - 600))&to=$to"
ON_TOPKR=$LAST_RPS ON_TOPKR_P99=$LAST_P99
stop_server

# ---- Phase 2: ingestion off (a finished data directory, still served) ----------------------------
start_server finished --data-dir "$TMP/finished" --rate "$RATE" --duration 30s --clock virtual
for _ in $(seq 600); do
    alive
    grep -q "input ended" "$TMP/finished.out" && break
    sleep 0.1
done
grep -q "input ended" "$TMP/finished.out" || die "the virtual 30 s run did not finish in 60 s"
echo "ingest off: adclick serve --rate $RATE --duration 30s --clock virtual, finished (pid $SERVER_PID, $BASE)"
pt=$(get /v1/pipeline | jq -r '.processing_time')
to=$(calc "%.0f" "int($pt / 60) * 60 + 60")
run_wrk "ingest off" "/healthz (HTTP floor)" "$OFF_WRK_SECONDS" "$WRK_CONNECTIONS" 2 0 /healthz
OFF_FLOOR=$LAST_RPS
run_wrk "ingest off" "aggregated_count (last 60 min, ${#AD_LIST[@]} ads)" "$OFF_WRK_SECONDS" "$WRK_CONNECTIONS" 2 0 \
    "${COUNT_PATHS[@]}"
OFF_COUNT=$LAST_RPS
# (top_k?k=100 without ingest has no live window to answer from: it would fall back to the rows.)
run_wrk "ingest off" "top_k?k=100&from&to (rows, 10 min; -c1)" "$ROWS_WRK_SECONDS" 1 20 0 \
    "/v1/ads/top_k?k=100&from=$((to - 600))&to=$to"
OFF_TOPKR=$LAST_RPS
stop_server

# ---- Report ----------------------------------------------------------------------------------------
echo
printf '%-10s %-44s %9s %9s %8s %8s %8s %7s %7s %9s %7s %6s\n' phase endpoint "req/s" "÷floor" "p50 ms" "p99 ms" \
    "max ms" non2xx sockerr "ingest/s" "÷$RATE" "lag s"
for row in "${ROWS[@]}"; do
    case "$row" in "ingest on"*) floor=$ON_FLOOR ;; *) floor=$OFF_FLOOR ;; esac
    rps=$(echo "$row" | awk '{ for (f = 1; f <= NF; ++f) if ($f == "@RATIO@") print $(f - 1) }')
    echo "${row/@RATIO@/$(printf '%9.3f' "$(calc "%.3f" "$rps / $floor")")}"
done
echo "(÷floor: req/s relative to /healthz in the same phase; lag: server time − processing time after the run;"
echo " ingest/s: Δ counters.received / Δ wall_seconds of the pipeline snapshots before and after each run)"
echo
echo "cost of concurrent ingest (req/s with ingest ÷ without):"
printf '  %-36s %6.3f\n' "/healthz" "$(calc "%.3f" "$ON_FLOOR / $OFF_FLOOR")" \
    "aggregated_count" "$(calc "%.3f" "$ON_COUNT / $OFF_COUNT")" \
    "top_k?k=100&from&to (rows)" "$(calc "%.3f" "$ON_TOPKR / $OFF_TOPKR")"

read -r r0 w0 _ <<<"$ingest_begin"
read -r r1 w1 l1 <<<"$ingest_end"
ingest_all=$(calc "%.0f" "($r1 - $r0) / ($w1 - $w0)")
ingest_all_ratio=$(calc "%.4f" "$ingest_all / $RATE")
ingest_min_ratio=$(printf '%s\n' "${INGEST_RATIOS[@]}" | sort -g | head -n 1)
echo
echo "ingest during the issue's load (healthz, aggregated_count, top_k runs): $ingest_all events/s = $ingest_all_ratio × $RATE (lowest run: $ingest_min_ratio);" \
    "events_per_second at the end $(jq -r '.events_per_second | floor' "$TMP/live_pipeline.json");" \
    "max ingest stall $(jq -r '.checkpoint.max_ingest_stall_ms' "$TMP/live_pipeline.json") ms;" \
    "longest checkpoint commit $(jq -r '.checkpoint.max_commit_ms' "$TMP/live_pipeline.json") ms"

echo
sed -n '/^RESULT/!p' "$TMP/fresh_idle.log"
sed -n '/^RESULT/!p' "$TMP/fresh_load.log"
fresh_p99=$(freshness_field "$TMP/fresh_load.log" freshness_p99_ms)
fresh_idle_p99=$(freshness_field "$TMP/fresh_idle.log" freshness_p99_ms)
fresh_res=$(freshness_field "$TMP/fresh_load.log" resolution_ms)
for f in "$TMP/fresh_idle.log" "$TMP/fresh_load.log"; do
    anomalies=$(freshness_field "$f" checkpoint_back)$(freshness_field "$f" count_down)$(freshness_field "$f" no_checkpoint)
    [ "$anomalies" = 000 ] || FAILURES+=("$(basename "$f"): checkpoint or click_count went back (see above)")
done
[ -n "$fresh_p99" ] && [ -n "$fresh_idle_p99" ] \
    && echo "freshness p99 under wrk ÷ without HTTP load: $(calc "%.3f" "$fresh_p99 / ($fresh_idle_p99 > 0 ? $fresh_idle_p99 : 1)")"

goal() { # NAME VALUE OP LIMIT UNIT; a value that is not a number (no figure) is a miss
    local verdict=MISS
    if [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk "BEGIN { exit !($2 $3 $4) }"; then verdict=PASS; fi
    printf '  %-4s %-44s %10s %-3s (goal %s %s)\n' "$verdict" "$1" "$2" "$5" "$3 $4" "$5"
}
echo
echo "goals (under ingest):"
goal "aggregated_count req/s" "$ON_COUNT" ">=" "$GOAL_RPS" ""
goal "aggregated_count p99" "$ON_COUNT_P99" "<=" "$GOAL_P99_MS" "ms"
goal "top_k?k=100 req/s" "$ON_TOPK" ">=" "$GOAL_RPS" ""
goal "top_k?k=100 p99" "$ON_TOPK_P99" "<=" "$GOAL_P99_MS" "ms"
goal "top_k?k=100&from&to (rows) req/s" "$ON_TOPKR" ">=" "$GOAL_RPS" ""
goal "top_k?k=100&from&to (rows) p99" "$ON_TOPKR_P99" "<=" "$GOAL_P99_MS" "ms"
goal "ingest rate held, issue's load (÷ target)" "$ingest_all_ratio" ">=" "$GOAL_INGEST_RATIO" ""
goal "ingest rate held, lowest single run (÷ target)" "$ingest_min_ratio" ">=" "$GOAL_INGEST_RATIO" ""
goal "freshness p99 under wrk (±${fresh_res} ms)" "${fresh_p99:-nan}" "<=" "$GOAL_FRESHNESS_P99_MS" "ms"
echo
echo "took $((SECONDS - start_wall)) s"

if [ ${#FAILURES[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${FAILURES[@]}" >&2
    exit 1
fi
exit 0
