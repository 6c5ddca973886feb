#!/usr/bin/env bash
# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (CPU build, Debug with -O1).
# CUDA is off here: the sanitizers instrument host code, and GPU code is checked with compute-sanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
build=${SPK_BUILD_DIR:-build-asan}
jobs=${SPK_JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPK_CUDA=OFF -DSPK_SANITIZE=ON
cmake --build "$build" -j "$jobs"
# OpenBLAS and OpenMP runtimes keep thread pools alive at exit; leaks inside them are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}
ctest --test-dir "$build" --output-on-failure -j "$jobs"
