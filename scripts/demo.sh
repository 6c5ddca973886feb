#!/usr/bin/env bash
# The README's demo command: set up, build, make the demo corpus (espeak-ng speakers, VoxCeleb layout),
# train ResNetSE34L on it (configs/demo.yaml) on the CPU and print the EER on speakers unseen in training.
#
# The build is CPU-only by default (SPK_CUDA=OFF): the demo trains on the CPU, and skipping nvcc saves minutes
# on a 2-core machine. SPK_CUDA=AUTO (or ON) builds the CUDA kernels too. Extra arguments go to spk_train
# (e.g. `scripts/demo.sh --max_epoch 20`). The experiment folder is exps/demo (SPK_DEMO_EXP): a second run
# resumes from its checkpoints, so remove the folder to train again from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

source scripts/demo/prepare.sh   # sets $build and $data

exp=${SPK_DEMO_EXP:-exps/demo}
echo "demo: training on $data/ (200 speakers), evaluating on 40 unseen speakers; log in $exp/train_log.csv"
# spk_train prints progress on stderr and its final "EER <percent> MinDCF <value>" line on stdout.
result=$("$build/apps/spk_train" --config configs/demo.yaml \
  --train_path "$data/wav" --train_list "$data/train_list.txt" \
  --test_path "$data/wav" --test_list "$data/test_list.txt" --save_path "$exp" "$@")
echo "demo: done in $(( $(date +%s) - start )) s; model $exp/model/last.safetensors (evaluate it again with"
echo "      $build/apps/spk_eval --initial_model $exp/model/last.safetensors --test_list $data/test_list.txt --test_path $data/wav)"
echo "demo: EER on the 40 unseen speakers' 2,160 trials (voxceleb_trainer's protocol), minDCF at p_target 0.05:"
echo "$result"
