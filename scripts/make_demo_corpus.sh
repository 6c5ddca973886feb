#!/usr/bin/env bash
# Build the speaker-labelled demo corpus from espeak-ng voices (see docs/demo_corpus.md).
#
# Layout (VoxCeleb-like, readable by voxceleb_trainer and spk):
#   OUT/wav/<spk_id>/<session>/<utt>.wav   16 kHz mono 16-bit PCM
#   OUT/train_list.txt                     "spk_id spk_id/session/utt.wav" (train speakers)
#   OUT/test_list.txt                      "label path1 path2", balanced, test speakers only
#   OUT/speakers.tsv                       how each speaker was made (voice, pitch, colouring)
# Same flags => same files byte for byte. Installs espeak-ng and sox with apt when missing.
# Work is split per speaker over --jobs processes (xargs -P); defaults fit ~2 min on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

out=$repo/demo_data
train_spk=200
test_spk=40
utts=9
sessions=3
seed=1234
jobs=2
force=0
install=1

usage() {
    cat <<EOF
usage: $0 [options]
  -o, --out DIR            output directory (default: $repo/demo_data)
      --train-speakers N   speakers in train_list.txt (default $train_spk, >= 2)
      --test-speakers N    speakers in test_list.txt, disjoint from train (default $test_spk, >= 2)
      --utts N             utterances per speaker (default $utts, >= 2)
      --sessions N         sessions per speaker, 1..utts (default $sessions)
      --seed N             random seed, non-negative integer (default $seed)
  -j, --jobs N             parallel workers (default $jobs)
      --force              delete an existing corpus in DIR and rebuild it
      --no-install         never call apt-get; fail if espeak-ng/sox are missing
  -h, --help               this text
EOF
}

die() { echo "make_demo_corpus: $*" >&2; exit 2; }

need_value() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }

uint() {  # uint NAME VALUE MIN MAX
    [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"
    if [[ ${#2} -gt 10 ]] || ((10#$2 < $3 || 10#$2 > $4)); then die "$1 must be in $3..$4, got '$2'"; fi
}

while [[ $# -gt 0 ]]; do
    case $1 in
        -o|--out) need_value "$@"; out=$2; shift 2 ;;
        --train-speakers) need_value "$@"; train_spk=$2; shift 2 ;;
        --test-speakers) need_value "$@"; test_spk=$2; shift 2 ;;
        --utts) need_value "$@"; utts=$2; shift 2 ;;
        --sessions) need_value "$@"; sessions=$2; shift 2 ;;
        --seed) need_value "$@"; seed=$2; shift 2 ;;
        -j|--jobs) need_value "$@"; jobs=$2; shift 2 ;;
        --force) force=1; shift ;;
        --no-install) install=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
uint --train-speakers "$train_spk" 2 10000
uint --test-speakers "$test_spk" 2 10000
uint --utts "$utts" 2 1000
uint --sessions "$sessions" 1 "$utts"
uint --seed "$seed" 0 4294967295
uint --jobs "$jobs" 1 64
train_spk=$((10#$train_spk)); test_spk=$((10#$test_spk)); utts=$((10#$utts))
sessions=$((10#$sessions)); seed=$((10#$seed)); jobs=$((10#$jobs))

# --- dependencies: dpkg -s first so a machine that has them never touches apt ---------------
missing=()
command -v espeak-ng >/dev/null || dpkg -s espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null || dpkg -s sox >/dev/null 2>&1 || missing+=(sox)
command -v python3 >/dev/null || [[ -x /usr/bin/python3 ]] || missing+=(python3)
if ((${#missing[@]})); then
    ((install)) || die "missing ${missing[*]} and --no-install given"
    command -v apt-get >/dev/null || die "missing ${missing[*]}; no apt-get here, install them by hand"
    sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing ${missing[*]}; run as root or install them"
        sudo=(sudo)
    fi
    echo "make_demo_corpus: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in espeak-ng sox soxi; do
    command -v "$tool" >/dev/null || die "$tool not on PATH after installation"
done
python=$(command -v python3 || echo /usr/bin/python3)

# --- existing output: reuse when identical, refuse otherwise (unless --force) --------------
config="train_speakers=$train_spk test_speakers=$test_spk utts=$utts sessions=$sessions seed=$seed"
config+=" generator=$(cat "$here/demo/plan_corpus.py" "$here/demo/synth_speaker.sh" | cksum | cut -d' ' -f1)"
config+=" espeak=$(espeak-ng --version | head -1 | awk '{print $4}')"
stamp=$out/.corpus_config
if [[ -e $out/wav || -e $out/train_list.txt || -e $out/test_list.txt ]]; then
    if ((!force)) && [[ -f $stamp && $(cat "$stamp") == "$config" ]]; then
        echo "make_demo_corpus: $out is already built with these settings (use --force to rebuild)"
        exit 0
    fi
    ((force)) || die "$out already holds a corpus built with other settings (or an unfinished one); pass --force to replace it"
    rm -rf "$out/wav" "$out/.plan" "$out/train_list.txt" "$out/test_list.txt" \
        "$out/speakers.tsv" "$stamp"
fi
mkdir -p "$out/wav"

start=$(date +%s.%N)
"$python" "$here/demo/plan_corpus.py" --plan-dir "$out/.plan" --train-speakers "$train_spk" \
    --test-speakers "$test_spk" --utts "$utts" --sessions "$sessions" --seed "$seed"

# One worker call per speaker; xargs exits non-zero if any worker fails.
find "$out/.plan/jobs" -name '*.tsv' -print0 | sort -z |
    xargs -0 -P "$jobs" -I{} "$here/demo/synth_speaker.sh" {} "$out/wav" ||
    die "synthesis failed (see messages above); $out is incomplete"

expected=$(((train_spk + test_spk) * utts))
got=$(find "$out/wav" -name '*.wav' | wc -l)
((got == expected)) || die "expected $expected wav files, found $got"
mv "$out/.plan/train_list.txt" "$out/.plan/test_list.txt" "$out/.plan/speakers.tsv" "$out/"
rm -rf "$out/.plan"
echo "$config" >"$stamp"

elapsed=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
# 16-bit mono 16 kHz with sox's 44-byte header: 32000 bytes per second.
secs=$(find "$out/wav" -name '*.wav' -printf '%s\n' | awk '{s += ($1 - 44) / 32000} END {printf "%.0f", s}')
echo "make_demo_corpus: $got utterances ($((secs / 60)) min $((secs % 60)) s of audio)," \
    "$(wc -l <"$out/train_list.txt") train lines, $(wc -l <"$out/test_list.txt") trials" \
    "in ${elapsed} s -> $out"
