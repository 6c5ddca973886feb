#!/usr/bin/env bash
# Self-supervised training on the demo corpus with its labels withheld (configs/ssl_demo/*.yaml: CEL's unsupervised
# stage, SimCLR, MoCo, DINO, CPC, LIM and GIM), each evaluated on the 40 unseen speakers. Writes exps/ssl_demo/table.md (the table in
# docs/ssl.md) and one folder per method.
#
#   scripts/ssl_demo.sh [method ...]      default: every configs/ssl_demo/*.yaml
#   SPK_SSL_EPOCHS    epochs per method (default: the configs' max_epoch, 6)
#   SPK_SSL_EXP       output folder (default exps/ssl_demo); a second run resumes each method's training
#   SPK_BUILD_DIR, SPK_DEMO_DATA, SPK_CUDA as in scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SPK_CMP_EPOCHS=${SPK_SSL_EPOCHS:-} exec bash scripts/compare_configs.sh configs/ssl_demo \
  "${SPK_SSL_EXP:-exps/ssl_demo}" "$@"
