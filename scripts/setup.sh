#!/usr/bin/env bash
# Installs every system dependency of spk with apt. Idempotent and quick when everything is present:
# it asks dpkg first and only runs apt-get (update + install) for what is missing.
# CUDA (nvcc, cuBLAS, cuDNN) is not installed here: where the toolkit is present the build uses it,
# otherwise it builds CPU-only.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libopenblas-dev          # CPU GEMM
  libdnnl-dev              # CPU conv backend "dnnl" (oneDNN; optional: without it spk builds its own convs only)
  doctest-dev              # tests
  libsndfile1-dev          # audio I/O (WAV, FLAC, OGG)
  libsamplerate0-dev       # resampling
  nlohmann-json3-dev       # safetensors headers, bench JSON
  libyaml-cpp-dev          # YAML configs
  libcli11-dev             # command-line flags
  espeak-ng sox            # the demo corpus
  protobuf-compiler        # tests: protoc decodes the TensorBoard records (optional, docs/recipes.md)
  ffmpeg                   # scripts/dataprep.py convert (AAC -> WAV) and its test
  libopenmpi-dev openmpi-bin   # spk_train --distributed on CPU, and its tests (docs/distributed.md)
  libonnx-dev libprotobuf-dev python3-onnx   # spk_export --onnx and tests/onnx (docs/onnx.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all dependencies present"
