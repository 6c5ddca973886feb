#!/usr/bin/env bash
# HardNeg's three training modes (CJchanghwan/speaker_recognition_framework --mode classifier | clip | blip) on the
# demo corpus: its ECAPA-TDNN at C 512 trained with each mode's loss at one CPU budget (configs/hardneg_modes/*.yaml),
# each evaluated as the seed evaluates (TaoRuijie's whole file + 5 crops) on the 40 unseen speakers. Writes
# exps/hardneg_modes/table.md (the table in docs/recipes.md, "HardNeg's three modes") and one folder per mode.
#
#   scripts/hardneg_modes.sh [mode ...]      default: classifier, clip and blip
#   SPK_HN_EPOCHS     epochs per mode (default: the configs' max_epoch, 6)
#   SPK_HN_EXP        output folder (default exps/hardneg_modes); a second run resumes each mode's training
#   SPK_BUILD_DIR, SPK_DEMO_DATA, SPK_CUDA as in scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- classifier clip blip
SPK_CMP_EPOCHS=${SPK_HN_EPOCHS:-} exec bash scripts/compare_configs.sh configs/hardneg_modes \
  "${SPK_HN_EXP:-exps/hardneg_modes}" "$@"
