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
SPK_CMP_EPOCHS=${SPK_LC_EPOCHS:-} exec bash scripts/compare_configs.sh configs/loss_comparison \
  "${SPK_LC_EXP:-exps/loss_comparison}" "$@"
