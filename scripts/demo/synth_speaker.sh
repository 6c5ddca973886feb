#!/usr/bin/env bash
# Synthesise every utterance of one speaker from its job file (written by plan_corpus.py).
#
# usage: synth_speaker.sh JOBFILE WAVDIR
# One call per speaker so that make_demo_corpus.sh can spread speakers over cores with xargs -P.
# Per utterance: espeak-ng (22.05 kHz) -> sox: vocal-tract speed factor, speaker colouring,
# session EQ, resample to 16 kHz, peak-normalise (32-bit float temp) -> sox -m with a noise
# segment (a fixed-seed noise stream cut at a per-utterance offset, so files do not share noise)
# -> 16 kHz mono 16-bit PCM WAV. sox -R makes dither and noise repeatable across runs.
set -euo pipefail

jobfile=$1
wavdir=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spkdemo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

while IFS=$'\t' read -r rel voice pitch wpm effects speech_vol noise noise_vol noise_off text; do
    [[ -n $rel ]] || continue
    out=$wavdir/$rel
    [[ -d ${out%/*} ]] || mkdir -p "${out%/*}"
    espeak-ng -v "$voice" -p "$pitch" -s "$wpm" -w "$tmp/raw.wav" "$text"
    # $effects is a plain list of sox effect words (no quoting inside): split on purpose.
    # shellcheck disable=SC2086
    sox -R -V1 "$tmp/raw.wav" -t wav -e floating-point -b 32 "$tmp/col.wav" $effects
    n=$(soxi -s "$tmp/col.wav")
    sox -R -V1 -m -v "$speech_vol" "$tmp/col.wav" \
        -v "$noise_vol" -t sox "|sox -R -V1 -r 16000 -c 1 -n -t sox - synth $((n + noise_off))s $noise trim ${noise_off}s" \
        -r 16000 -c 1 -b 16 -e signed-integer "$out"
done <"$jobfile"
