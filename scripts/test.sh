#!/usr/bin/env bash
# The README's test command: install dependencies, configure (CUDA sources included where nvcc is found),
# build everything and run the whole test suite through ctest.
#   SPK_BUILD_DIR  build directory (default build)
#   SPK_CUDA       AUTO (default) | ON | OFF
#   SPK_JOBS       parallel build jobs (default: number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
build=${SPK_BUILD_DIR:-build}
jobs=${SPK_JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPK_CUDA="${SPK_CUDA:-AUTO}" ${SPK_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
