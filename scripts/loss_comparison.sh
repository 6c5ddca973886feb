#!/usr/bin/env bash
# The loss comparison of Coria et al. (SLSP 2020, "A Comparison of Metric Learning Loss Functions for End-to-End
# Speaker Verification"), replayed on the demo corpus: SincTDNN trained from the waveform with each of pyannote's
# losses (configs/loss_comparison/*.yaml) at one CPU budget, each evaluated on the 40 unseen speakers with a 95 %
# bootstrap interval of the EER. Writes exps/loss_comparison/table.md (the table in docs/losses.md) and one
# folder per loss (train log, checkpoints, eval.json).
#
#   scripts/loss_comparison.sh [loss ...]      default: every configs/loss_comparison/*.yaml
#   SPK_LC_EPOCHS     epochs per loss (default: the configs' max_epoch, 3)
#   SPK_LC_EXP        output folder (default exps/loss_comparison); a second run resumes each loss's training
#   SPK_BUILD_DIR, SPK_DEMO_DATA, SPK_CUDA as in scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/setup.sh
build=${SPK_BUILD_DIR:-build-demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPK_CUDA="${SPK_CUDA:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target spk_train spk_eval

data=${SPK_DEMO_DATA:-demo_data}
bash scripts/make_demo_corpus.sh -o "$data" -j "$(nproc)"

exp=${SPK_LC_EXP:-exps/loss_comparison}
epoch_flags=()
[ -n "${SPK_LC_EPOCHS:-}" ] && epoch_flags=(--max_epoch "$SPK_LC_EPOCHS" --test_interval "$SPK_LC_EPOCHS")
mkdir -p "$exp"
if [ $# -gt 0 ]; then losses=("$@"); else
  losses=(); for f in configs/loss_comparison/*.yaml; do losses+=("$(basename "$f" .yaml)"); done
fi
for loss in "${losses[@]}"; do
  [ -f "configs/loss_comparison/$loss.yaml" ] || { echo "loss_comparison: no configs/loss_comparison/$loss.yaml" >&2; exit 2; }
done

rows="$exp/rows.tsv"
: > "$rows"
for loss in "${losses[@]}"; do
  out="$exp/$loss"
  echo "loss_comparison: $loss -> $out"
  t0=$(date +%s)
  "$build/apps/spk_train" --config "configs/loss_comparison/$loss.yaml" \
    --train_path "$data/wav" --train_list "$data/train_list.txt" \
    --test_list "" --save_path "$out" "${epoch_flags[@]}" >"$out.train.txt"   # evaluated once, below
  t1=$(date +%s)
  "$build/apps/spk_eval" --config "configs/loss_comparison/$loss.yaml" --initial_model "$out/model/last.safetensors" \
    --test_path "$data/wav" --test_list "$data/test_list.txt" --eer_ci 0.95 --json "$out/eval.json" >/dev/null
  printf '%s\t%s\t%s\n' "$loss" "$((t1 - t0))" "$out/eval.json" >> "$rows"
done

python3 - "$rows" "$exp/table.md" <<'EOF'
import json, sys
rows, table = sys.argv[1], sys.argv[2]
lines = ["| loss (config) | EER % | 95 % interval | minDCF (p 0.05) | training wall time |",
         "|---|---|---|---|---|"]
for line in open(rows):
    loss, secs, path = line.rstrip("\n").split("\t")
    j = json.load(open(path))
    s = j["scores"][j["primary"]]
    lines.append(f"| {loss} | {s['vt_eer']:.2f} | [{s['eer_ci_low']:.2f}, {s['eer_ci_high']:.2f}] | "
                 f"{s['min_dcf_p0.05']['min_dcf']:.4f} | {int(secs) // 60} min {int(secs) % 60:02d} s |")
open(table, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "loss_comparison: done in $(( $(date +%s) - start )) s; table in $exp/table.md"
