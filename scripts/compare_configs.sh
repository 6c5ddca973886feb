#!/usr/bin/env bash
# Trains each recipe of a config folder on the demo corpus at the budget the configs state, evaluates each once on
# the 40 unseen speakers (spk_eval with the config's evaluation settings and a 95 % bootstrap interval of the EER)
# and writes a markdown table: EER, interval, minDCF (p 0.05), training wall time and CPU time. The comparisons in
# the docs are this script's output: scripts/loss_comparison.sh (docs/losses.md) and scripts/hardneg_modes.sh
# (docs/recipes.md) call it with their folders.
#
#   scripts/compare_configs.sh CONFIG_DIR EXP_DIR [name ...]   default: every CONFIG_DIR/*.yaml, in name order
#   SPK_CMP_EPOCHS    epochs per config (default: each config's max_epoch)
#   SPK_BUILD_DIR, SPK_DEMO_DATA, SPK_CUDA as in scripts/demo.sh
# A second run with the same EXP_DIR resumes each config's training where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/compare_configs.sh CONFIG_DIR EXP_DIR [name ...]" >&2; exit 2; }
configs=$1 exp=$2
shift 2
[ -d "$configs" ] || { echo "compare_configs: no folder $configs" >&2; exit 2; }
start=$(date +%s)

source scripts/demo/prepare.sh   # sets $build and $data

epoch_flags=()
[ -n "${SPK_CMP_EPOCHS:-}" ] && epoch_flags=(--max_epoch "$SPK_CMP_EPOCHS" --test_interval "$SPK_CMP_EPOCHS")
mkdir -p "$exp"
if [ $# -gt 0 ]; then names=("$@"); else
  names=(); for f in "$configs"/*.yaml; do names+=("$(basename "$f" .yaml)"); done
fi
for name in "${names[@]}"; do
  [ -f "$configs/$name.yaml" ] || { echo "compare_configs: no $configs/$name.yaml" >&2; exit 2; }
done

# Runs "$@" with its stdout in the file $1 and prints its CPU time (user + sys, seconds): on a shared machine the
# wall time grows with the other load, the CPU time much less.
cpu_seconds() {
  python3 -c 'import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    rc = subprocess.run(sys.argv[2:], stdout=out).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(round(r.ru_utime + r.ru_stime))
sys.exit(rc)' "$@"
}

rows="$exp/rows.tsv"
: > "$rows"
for name in "${names[@]}"; do
  out="$exp/$name"
  echo "compare_configs: $name -> $out"
  t0=$(date +%s)
  cpu=$(cpu_seconds "$out.train.txt" "$build/apps/spk_train" --config "$configs/$name.yaml" \
    --train_path "$data/wav" --train_list "$data/train_list.txt" \
    --test_list "" --save_path "$out" "${epoch_flags[@]}")   # evaluated once, below
  t1=$(date +%s)
  "$build/apps/spk_eval" --config "$configs/$name.yaml" --initial_model "$out/model/last.safetensors" \
    --test_path "$data/wav" --test_list "$data/test_list.txt" --eer_ci 0.95 --json "$out/eval.json" >/dev/null
  printf '%s\t%s\t%s\t%s\n' "$name" "$((t1 - t0))" "$cpu" "$out/eval.json" >> "$rows"
done

python3 - "$rows" "$exp/table.md" <<'PY'
import json, sys
rows, table = sys.argv[1], sys.argv[2]
def minutes(secs):
    return f"{int(secs) // 60} min {int(secs) % 60:02d} s"
lines = ["| config | EER % | 95 % interval | minDCF (p 0.05) | training wall time | training CPU time |",
         "|---|---|---|---|---|---|"]
for line in open(rows):
    name, secs, cpu, path = line.rstrip("\n").split("\t")
    j = json.load(open(path))
    s = j["scores"][j["primary"]]
    lines.append(f"| {name} | {s['vt_eer']:.2f} | [{s['eer_ci_low']:.2f}, {s['eer_ci_high']:.2f}] | "
                 f"{s['min_dcf_p0.05']['min_dcf']:.4f} | {minutes(secs)} | {minutes(cpu)} |")
open(table, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "compare_configs: done in $(( $(date +%s) - start )) s; table in $exp/table.md"
