#!/usr/bin/env bash
# Run HERE (the development machine) before a device session: downloads the Debian packages spk builds
# against into .device/debs (git-ignored), so the GPU machine — which has nvcc, CMake and PyTorch but no
# network and not our Debian libraries — can unpack them into a private prefix. Then call the device tool
# with carry [".device"] and the command `bash scripts/device/check.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device/debs
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >> "$exclude"
pkgs=(libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev libgfortran5 doctest-dev
      libsndfile1 libsndfile1-dev libflac12 libogg0 libvorbis0a libvorbisenc2 libopus0 libmpg123-0 libmp3lame0
      libflac-dev libogg-dev libvorbis-dev libopus-dev libmpg123-dev libmp3lame-dev
      libsamplerate0 libsamplerate0-dev nlohmann-json3-dev pkg-config pkgconf pkgconf-bin libpkgconf3)
cd .device/debs
apt-get download "${pkgs[@]}" 2>&1 | grep -v '^Get:' || true
ls -1 | wc -l | xargs echo "prepare: debs in .device/debs:"
du -sh . | cut -f1 | xargs echo "prepare: size"
