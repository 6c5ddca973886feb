#!/usr/bin/env bash
# Run ON THE GPU MACHINE through the device tool (after scripts/device/prepare.sh here, carry [".device"]):
# one call that builds spk with CUDA, runs the whole test suite (the GPU parity cases now run instead of
# skipping), runs the CUDA cases under compute-sanitizer memcheck, and benchmarks, writing everything to $OUT.
# Never tested on a GPU machine yet: the first lines print what the machine has, so a failure is diagnosable.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/spk-device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1

echo "== machine"; date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -2; cmake --version | head -1; ldd --version | head -1; git rev-parse --short=12 HEAD || true

# Our Debian libraries, unpacked into a private prefix (no root needed, nothing in / is touched).
root=/tmp/spk-sysroot
mkdir -p "$root"
for f in .device/debs/*.deb; do dpkg-deb -x "$f" "$root"; done
lib=$root/usr/lib/x86_64-linux-gnu
# OpenBLAS is installed behind Debian's alternatives; point the generic names at the pthread build.
for so in libblas.so.3 liblapack.so.3; do [ -e "$lib/$so" ] || ln -sf openblas-pthread/$so "$lib/$so" 2>/dev/null; done
ln -sf openblas-pthread/libopenblas.so.0 "$lib/libopenblas.so.0" 2>/dev/null || true
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_PATH=$lib/pkgconfig:$root/usr/share/pkgconfig
export PKG_CONFIG=$(command -v pkg-config || echo "$root/usr/bin/pkgconf")
export LD_LIBRARY_PATH=$lib:$lib/openblas-pthread:${LD_LIBRARY_PATH:-}
export CMAKE_PREFIX_PATH=$root/usr
# cuBLAS: the toolkit's, else PyTorch's pip wheel (nvidia-cublas).
if ! ls /usr/local/cuda/lib64/libcublas.so* >/dev/null 2>&1; then
  cub=$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__))' 2>/dev/null || true)
  [ -n "$cub" ] && export LD_LIBRARY_PATH=$cub/lib:$LD_LIBRARY_PATH && echo "cuBLAS from $cub"
fi

# cuDNN (the "cudnn" conv backend; optional): the toolkit's, else PyTorch's pip wheel (nvidia-cudnn-cu12/13),
# handed to CMake as CUDNN_ROOT (a folder with include/cudnn.h and lib/libcudnn.so*).
if [ -z "${CUDNN_ROOT:-}" ] && ! ls /usr/local/cuda/include/cudnn.h >/dev/null 2>&1; then
  CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn, os; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null || true)
  if [ -z "$CUDNN_ROOT" ] || [ ! -e "$CUDNN_ROOT/include/cudnn.h" ]; then
    for sp in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
      h=$(find "$sp" -path '*nvidia*' -name cudnn.h 2>/dev/null | head -1)
      [ -n "$h" ] && CUDNN_ROOT=$(dirname "$(dirname "$h")") && break
    done
  fi
fi
if [ -n "${CUDNN_ROOT:-}" ] && [ -e "$CUDNN_ROOT/include/cudnn.h" ]; then
  export CUDNN_ROOT
  for d in "$CUDNN_ROOT/lib" "$CUDNN_ROOT/lib64"; do [ -d "$d" ] && export LD_LIBRARY_PATH=$d:$LD_LIBRARY_PATH; done
  echo "cuDNN from $CUDNN_ROOT"
else
  unset CUDNN_ROOT; echo "cuDNN: not found outside the toolkit (the cudnn conv backend may be absent)"
fi

echo "== build"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DSPK_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" || exit 1
cmake --build build-gpu -j "$(nproc)" || exit 1

echo "== tests"
ctest --test-dir build-gpu --output-on-failure -j 4 | tee "$OUT/ctest.txt"
./build-gpu/tests/spk_test_engine -tc='cuda*' -s 2>&1 | tail -40 > "$OUT/cuda_cases.txt"

echo "== compute-sanitizer memcheck"
compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/tests/spk_test_engine -tc='cuda*' > "$OUT/memcheck.txt" 2>&1
echo "memcheck exit $?"; tail -5 "$OUT/memcheck.txt"
compute-sanitizer --tool racecheck --error-exitcode 9 ./build-gpu/tests/spk_test_engine -tc='cuda parity softmax*,cuda parity sum*,cuda parity max*,cuda parity conv1d*' > "$OUT/racecheck.txt" 2>&1
echo "racecheck exit $?"; tail -3 "$OUT/racecheck.txt"

echo "== bench"
./build-gpu/bench/spk_bench --json "$OUT/bench.json" --budget 0.3 | tee "$OUT/bench.txt"
