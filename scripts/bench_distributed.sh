#!/usr/bin/env bash
# Speed of spk_train --distributed on the CPU (issue 15's target: 2 ranks x 1 thread at least 1.6x faster than
# 1 rank x 1 thread): one training epoch of the demo corpus (configs/demo.yaml, no evaluation) as
#   1 process,           1 compute thread, --batch_size 32
#   2 ranks (mpirun),    1 compute thread each, --batch_size 16 per rank (the same 32 per step, the same steps)
# and a table of wall time, epoch time and samples/s. Run from the repository root; takes a few minutes on a
# 2-core machine. SPK_BUILD_DIR / SPK_DEMO_DATA as scripts/demo/prepare.sh; SPK_BENCH_OUT (default
# exps/bench_distributed) is overwritten. Extra arguments go to both spk_train runs.
set -euo pipefail
source scripts/demo/prepare.sh   # packages (OpenMPI included), build ($build), demo corpus ($data)
out=${SPK_BENCH_OUT:-exps/bench_distributed}
rm -rf "$out"
mkdir -p "$out"

common=(--config configs/demo.yaml --train_list "$data/train_list.txt" --train_path "$data/wav" --test_list ''
        --max_epoch 1 --nDataLoaderThread 1 "$@")
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1   # one compute thread per process
mpirun=(mpirun --oversubscribe --bind-to none -np 2)
if [ "$(id -u)" -eq 0 ]; then
  mpirun+=(--allow-run-as-root)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

now() { date +%s.%N; }
t0=$(now)
"$build/apps/spk_train" "${common[@]}" --batch_size 32 --save_path "$out/one" 2> "$out/one.log"
t1=$(now)
"${mpirun[@]}" "$build/apps/spk_train" --distributed "${common[@]}" --batch_size 16 --save_path "$out/two" \
  2> "$out/two.log"
t2=$(now)

# train_log.csv: epoch,steps,lr,loss,train_metric,train_metric_kind,samples_per_s,seconds,...
row() { tail -n 1 "$1/train_log.csv"; }
python3 - "$t0" "$t1" "$t2" "$(row "$out/one")" "$(row "$out/two")" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
one, two = (r.split(",") for r in sys.argv[4:6])
print(f"{'run':<28}{'wall s':>9}{'epoch s':>9}{'samples/s':>11}{'loss':>9}")
print(f"{'1 process x 1 thread, b 32':<28}{t1 - t0:9.1f}{float(one[7]):9.1f}{float(one[6]):11.1f}{float(one[3]):9.4f}")
print(f"{'2 ranks x 1 thread, b 16x2':<28}{t2 - t1:9.1f}{float(two[7]):9.1f}{float(two[6]):11.1f}{float(two[3]):9.4f}")
print(f"epoch speed-up {float(one[7]) / float(two[7]):.2f}x (wall {(t1 - t0) / (t2 - t1):.2f}x); target >= 1.6x")
PY
