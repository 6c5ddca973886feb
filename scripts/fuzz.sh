#!/usr/bin/env bash
# Fuzz every parser target (tests/fuzz, docs/fuzzing.md) for SECONDS each with libFuzzer + ASan + UBSan.
#   scripts/fuzz.sh SECONDS [TARGET...]
#   SPK_FUZZ_DIR   build folder (default build-fuzz); the work lands in $SPK_FUZZ_DIR/fuzz/:
#                    corpus/<target>/    the live corpus (seeds + regressions + what the fuzzer found)
#                    findings/<target>/  crash-*, leak-*, timeout-*, oom-* inputs: each one is a finding
#                    logs/<target>.log   libFuzzer's output, ending with its stats
#   SPK_FUZZ_JOBS  targets fuzzed at once (default 2: each target is one process on one core)
# Exits non-zero when any target has a finding. A finding is fixed in the parser and its input copied to
# tests/fuzz/regressions/<target>/, which ctest replays on every build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(audio train_list trials kaldi_lists augment_lists config_yaml safetensors torch_checkpoint checkpoint_resume)
fi
build=${SPK_FUZZ_DIR:-build-fuzz}
jobs=${SPK_FUZZ_JOBS:-2}
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPK_CUDA=OFF -DSPK_FUZZ=ON \
      -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" "${launcher[@]}" > /dev/null
cmake --build "$build" -j "$jobs" --target spk_fuzz_seeds $(printf 'spk_fuzz_%s ' "${targets[@]}")

work=$build/fuzz
mkdir -p "$work/logs"
"$build/tests/fuzz/spk_fuzz_seeds" "$work/seeds" tests/data configs

# LSan: the OpenBLAS and OpenMP thread pools live until exit by design (scripts/lsan.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}

fuzz_one() {
  local t=$1
  mkdir -p "$work/corpus/$t" "$work/findings/$t"
  cp -n "$work/seeds/$t"/* "$work/corpus/$t"/ 2> /dev/null || true
  [ -d "tests/fuzz/regressions/$t" ] && cp -n "tests/fuzz/regressions/$t"/* "$work/corpus/$t"/ 2> /dev/null || true
  # -rss_limit_mb / -malloc_limit_mb: an input that makes a parser allocate past 1 GiB at once is a finding
  # (docs/fuzzing.md, resource bounds). -timeout: one input may not take 25 s.
  "$build/tests/fuzz/spk_fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2560 -malloc_limit_mb=1024 \
      -timeout=25 -print_final_stats=1 -artifact_prefix="$work/findings/$t/" "$work/corpus/$t" \
      > "$work/logs/$t.log" 2>&1 || true
  local n
  n=$(find "$work/findings/$t" -type f | wc -l)
  echo "$t: $(grep -E '^stat::number_of_executed_units' "$work/logs/$t.log" | awk '{print $2}') executions," \
       "$(find "$work/corpus/$t" -type f | wc -l) corpus files, $n findings"
}

running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
total=$(find "$work/findings" -type f | wc -l)
echo "findings in $work/findings: $total"
[ "$total" -eq 0 ]
