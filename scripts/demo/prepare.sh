# Sourced by the scripts that train on the demo corpus (scripts/demo.sh, scripts/compare_configs.sh), from the
# repository root: installs the system packages, builds spk_train and spk_eval in $build (SPK_BUILD_DIR, default
# build-demo; CPU-only unless SPK_CUDA says otherwise) and makes the demo corpus in $data (SPK_DEMO_DATA, default
# demo_data; a finished corpus is reused).
bash scripts/setup.sh
build=${SPK_BUILD_DIR:-build-demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPK_CUDA="${SPK_CUDA:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target spk_train spk_eval

data=${SPK_DEMO_DATA:-demo_data}
bash scripts/make_demo_corpus.sh -o "$data" -j "$(nproc)"
