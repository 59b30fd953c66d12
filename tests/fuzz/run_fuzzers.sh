#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang + ASan + UBSan and runs each for
# a bounded time on a scratch copy of its seed corpus. Fails if the build or any fuzzer fails.
#
#   run_fuzzers.sh <source_dir> <build_dir>
#   ADCLICK_FUZZ_SECONDS  time per fuzzer (default 60)
#   ADCLICK_FUZZ_JOBS     build parallelism (default 2)
# Crash reproducers are kept in <build_dir>/artifacts/<fuzzer>/.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <source_dir> <build_dir>" >&2
    exit 2
fi
source_dir=$(cd "$1" && pwd)
mkdir -p "$2"
build_dir=$(cd "$2" && pwd)
seconds=${ADCLICK_FUZZ_SECONDS:-60}
jobs=${ADCLICK_FUZZ_JOBS:-2}
fuzz_dir="$source_dir/tests/fuzz"

generator=()
if command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
fi
# A build tree configured with another compiler cannot be switched: start it afresh.
if [[ -f "$build_dir/CMakeCache.txt" ]] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang++' "$build_dir/CMakeCache.txt"; then
    rm -rf "$build_dir/CMakeCache.txt" "$build_dir/CMakeFiles"
fi

echo "== configuring fuzzers in $build_dir"
CC=clang CXX=clang++ cmake -S "$fuzz_dir" -B "$build_dir" "${generator[@]}" \
    -DADCLICK_SOURCE_DIR="$source_dir" >"$build_dir/configure.log" 2>&1 || {
    cat "$build_dir/configure.log" >&2
    exit 1
}
echo "== building fuzzers"
cmake --build "$build_dir" --parallel "$jobs" >"$build_dir/build.log" 2>&1 || {
    tail -n 80 "$build_dir/build.log" >&2
    exit 1
}

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/adclick-fuzz.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

shopt -s nullglob
sources=("$fuzz_dir"/fuzz_*.cpp)
if [[ ${#sources[@]} -eq 0 ]]; then
    echo "no fuzz_*.cpp in $fuzz_dir" >&2
    exit 1
fi

failed=0
summary=()
for src in "${sources[@]}"; do
    fuzzer=$(basename "$src" .cpp)
    name=${fuzzer#fuzz_}
    binary="$build_dir/$fuzzer"
    if [[ ! -x "$binary" ]]; then
        summary+=("$fuzzer: FAILED (binary missing)")
        failed=1
        continue
    fi
    corpus="$work_dir/$name"
    mkdir -p "$corpus" "$build_dir/artifacts/$name"
    seeds="$fuzz_dir/corpus/$name"
    seed_count=0
    if [[ -d "$seeds" ]]; then
        cp -R "$seeds"/. "$corpus"/
        seed_count=$(find "$seeds" -type f | wc -l)
    fi
    log="$build_dir/$fuzzer.log"
    echo "== running $fuzzer for ${seconds}s ($seed_count seeds)"
    status=0
    "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        -artifact_prefix="$build_dir/artifacts/$name/" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    corpus_size=$(find "$corpus" -type f | wc -l)
    if [[ $status -eq 0 ]]; then
        summary+=("$fuzzer: OK, ${runs:-?} runs in ${seconds}s, corpus $seed_count -> $corpus_size inputs")
    else
        summary+=("$fuzzer: FAILED (exit $status) after ${runs:-?} runs; log $log, artifacts $build_dir/artifacts/$name/")
        tail -n 60 "$log" >&2
        failed=1
    fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
